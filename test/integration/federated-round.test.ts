import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { FederatedClient } from '../../client/federated-client.ts';
import { CoordinatorApi } from '../../client/coordinator-api.ts';
import { loadIris } from '../../client/data/iris.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { subset } from '../../client/data/dataset.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { evaluate } from '../../client/tf/trainer.ts';
import { decodeCheckpoint, decodeManifest, contentHash, verifyManifest } from '../../protocol/index.ts';
import { ADMIN, startTestCoordinator, waitFor } from '../helpers/env.ts';

// A whole federated run on a small real data set: three data owners (one through Redis, two over
// HTTP), real TensorFlow.js training, real Redis and BullMQ, FedAvg, three rounds.
describe('a federated run on iris with 3 clients', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  before(async () => {
    await initBackend();
    env = await startTestCoordinator();
  });
  after(async () => env.cleanup());

  test('three rounds aggregate, every update is counted once, and accuracy rises', async () => {
    const admin = new CoordinatorApi(env.c.url, ADMIN);
    const task = await admin.createTask({ name: 'iris', model: 'iris-mlp', training: { localEpochs: 5, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '1000' }, seed: 7 });
    const iris = loadIris();
    const parts = iidPartition(iris.n, 3, 1);
    const clients = [0, 1, 2].map(
      (i) =>
        new FederatedClient({
          coordinatorUrl: env.c.url,
          wallet: Wallet.createRandom(),
          upload: i === 0 ? { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix } : { mode: 'http' },
          pollMs: 50,
        }),
    );
    for (const c of clients) await c.register(task.id);

    const genesis = decodeCheckpoint((await admin.getCheckpoint(task.genesisHash)).bytes);
    const before = await evaluate({ spec: task.modelSpec, weights: genesis.weights, data: iris });
    let last = task.genesisHash as string;
    for (let r = 1; r <= 3; r++) {
      const round = await admin.openRound(task.id, { durationSeconds: 60, minClients: 3, maxClients: 3 });
      assert.equal(round.round, r);
      assert.equal(round.baseHash, last, 'each round starts from the previous checkpoint');
      const results = await Promise.all(clients.map((c, i) => c.contribute({ task, round, data: subset(iris, parts[i]!) })));
      for (const [i, res] of results.entries()) {
        assert.deepEqual(await clients[i]!.waitForDecision(task.id, r, res.jobId), { status: 'accepted' });
      }
      const done = await waitFor('round aggregated', async () => {
        const s = await admin.getRound(task.id, r);
        return s.state === 'aggregated' ? s : null;
      });
      assert.equal(done.accepted, 3);
      assert.equal(done.rejected, 0);
      assert.equal(done.acceptedUpdates.length, 3);
      assert.deepEqual(new Set(results.map((x) => x.via)), new Set(['queue', 'http']));
      const cp = await admin.getCheckpoint(done.checkpointHash!);
      assert.equal(await contentHash(cp.bytes), done.checkpointHash);
      assert.equal(cp.checkpoint.parentHash, last);
      assert.equal(cp.checkpoint.round, r);
      // The round's manifest: served by hash, consistent, and paying out the whole reward pro rata.
      const res = await fetch(new URL(`/v1/manifests/${done.manifestHash}`, env.c.url));
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.equal(await contentHash(bytes), done.manifestHash);
      const m = decodeManifest(bytes);
      assert.deepEqual(verifyManifest(m), []);
      assert.equal(m.checkpointHash, done.checkpointHash);
      assert.equal(m.rewardsRoot, done.rewardsRoot);
      assert.equal(m.entries.length, 3);
      assert.equal(m.entries.reduce((s, e) => s + BigInt(e.reward), 0n), 1000n);
      assert.equal(done.reward, '1000');
      last = done.checkpointHash!;
      assert.equal((await admin.getTask(task.id)).checkpointHash, last);
    }
    const final = decodeCheckpoint((await admin.getCheckpoint(last)).bytes);
    const afterEval = await evaluate({ spec: task.modelSpec, weights: final.weights, data: iris });
    assert.ok(afterEval.accuracy >= 0.85, `accuracy after 3 rounds: ${afterEval.accuracy}`);
    assert.ok(afterEval.accuracy > before.accuracy + 0.2, `accuracy ${before.accuracy} -> ${afterEval.accuracy}`);
    await Promise.all(clients.map((c) => c.close()));
  });
});
