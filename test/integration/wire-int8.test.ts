import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Wallet } from 'ethers';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { FederatedClient } from '../../client/federated-client.ts';
import { loadIris } from '../../client/data/iris.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { subset } from '../../client/data/dataset.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { decodeManifest, encodeFloat32, wireBytes, type Task } from '../../protocol/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';
import { expectAudited } from '../helpers/chain-audit.ts';

// An int8 task end to end: real tfjs owners encode their deltas with stochastic rounding, the worker
// checks the encoding, close-round decodes it, the chain commits, and the auditor decodes the archive
// exactly as the coordinator did (bit for bit). Malformed int8 bytes are rejected with a reason.
describe('int8 wire codec: a task end to end', () => {
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let task: Task;
  let clients: FederatedClient[] = [];
  before(async () => {
    await initBackend();
    chain = await startChain();
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    env = await startTestCoordinator({}, { chain: chainClient, chainIntervalMs: 100 });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await env?.cleanup();
    chainClient?.close();
    await chain?.stop();
  });

  test('two rounds of three tfjs owners commit and audit-pass; bad encodings are rejected and change nothing', async () => {
    task = await createTask(env.c.ctx, { name: 'iris int8', model: 'iris-mlp', wire: { codec: 'int8', block: 64 }, training: { localEpochs: 3, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '1000', budget: '2000' }, seed: 11 });
    assert.deepEqual(task.wire, { codec: 'int8', block: 64 });
    const iris = loadIris();
    const parts = iidPartition(iris.n, 3, 2);
    clients = [0, 1, 2].map((i) => new FederatedClient({ coordinatorUrl: env.c.url, wallet: Wallet.createRandom(), upload: i === 0 ? { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix } : { mode: 'http' }, pollMs: 50 }));
    for (const c of clients) await c.register(task.id);
    const forger = await makeOwner(env.c.ctx, task, 5);
    for (let r = 1; r <= 2; r++) {
      const round = await openRound(env.c.ctx, task.id, { durationSeconds: 120, minClients: 3, maxClients: 3 });
      if (r === 1) {
        // Signed, well-sized, but not int8: a -128, then a float32 delta; both rejected with reasons.
        const good = await forger.update(r, round.baseHash);
        assert.equal(good.bytes.length, wireBytes(task.wire, task.params));
        const minus128 = good.bytes.slice();
        minus128[minus128.length - 1] = 0x80;
        await queueUpload(env.config.redisUrl, env.config.prefix, await forger.update(r, round.baseHash, 10, 0.01, undefined, minus128));
        await queueUpload(env.config.redisUrl, env.config.prefix, await forger.update(r, round.baseHash, 10, 0.01, undefined, encodeFloat32(good.delta)));
        const rejected = await waitFor('two rejections', async () => {
          const list = await env.c.ctx.rounds.rejections(task.id, r);
          return list.length === 2 ? list : null;
        });
        const byCode = Object.fromEntries(rejected.map((x) => [x.code, x.reason]));
        assert.match(byCode['BAD_ENCODING'] ?? '', /not a int8 delta: int8 value \d+ is -128/);
        assert.match(byCode['OVERSIZED'] ?? '', new RegExp(`delta has ${task.params * 4} bytes; the model needs ${wireBytes(task.wire, task.params)}`));
      }
      const results = await Promise.all(clients.map((c, i) => c.contribute({ task, round, data: subset(iris, parts[i]!) })));
      for (const [i, res] of results.entries()) assert.deepEqual(await clients[i]!.waitForDecision(task.id, r, res.jobId), { status: 'accepted' });
      const done = await waitFor(`round ${r} committed`, async () => {
        const s = await env.c.ctx.rounds.get(task.id, r);
        return s?.state === 'committed' ? s : null;
      }, 60_000);
      assert.equal(done.accepted, 3);
      const m = decodeManifest((await env.c.ctx.store.get('manifests', done.manifestHash!))!);
      assert.deepEqual(m.wire, { codec: 'int8', block: 64 }, 'the manifest records the codec');
      for (const u of done.acceptedUpdates) assert.equal((await env.c.ctx.store.get('updates', u.updateHash))!.length, wireBytes(task.wire, task.params), 'the archive keeps the int8 bytes');
    }
    await expectAudited(chain, env.c.url, task.id);
  });

  test('a top-k task: tfjs owners send 10 % of the coordinates with error feedback; rounds commit and audit-pass', async () => {
    const topk = await createTask(env.c.ctx, { name: 'iris topk', model: 'iris-mlp', wire: { codec: 'topk', fraction: 0.1 }, training: { localEpochs: 3, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '1000', budget: '2000' }, seed: 12 });
    const iris = loadIris();
    const parts = iidPartition(iris.n, 3, 3);
    const owners = [0, 1, 2].map((i) => new FederatedClient({ coordinatorUrl: env.c.url, wallet: Wallet.createRandom(), upload: i === 0 ? { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix } : { mode: 'http' }, pollMs: 50 }));
    clients.push(...owners);
    for (const c of owners) await c.register(topk.id);
    for (let r = 1; r <= 2; r++) {
      const round = await openRound(env.c.ctx, topk.id, { durationSeconds: 120, minClients: 3, maxClients: 3 });
      const results = await Promise.all(owners.map((c, i) => c.contribute({ task: topk, round, data: subset(iris, parts[i]!) })));
      for (const [i, res] of results.entries()) assert.deepEqual(await owners[i]!.waitForDecision(topk.id, r, res.jobId), { status: 'accepted' });
      const done = await waitFor(`top-k round ${r} committed`, async () => {
        const s = await env.c.ctx.rounds.get(topk.id, r);
        return s?.state === 'committed' ? s : null;
      }, 60_000);
      const m = decodeManifest((await env.c.ctx.store.get('manifests', done.manifestHash!))!);
      assert.deepEqual(m.wire, { codec: 'topk', fraction: 0.1 });
      // k = ceil(0.1 x 131) = 14 coordinates of iris-mlp: 14 indices and 14 values.
      assert.equal(wireBytes(topk.wire, topk.params), 14 * 8);
      for (const u of done.acceptedUpdates) assert.equal((await env.c.ctx.store.get('updates', u.updateHash))!.length, 14 * 8);
    }
    await expectAudited(chain, env.c.url, topk.id);
  });

  test('a secure task cannot take the int8 codec (its masked words are their own fixed point)', async () => {
    await assert.rejects(
      createTask(env.c.ctx, { name: 'secure int8', model: 'iris-mlp', wire: { codec: 'int8' }, secure: { bits: 16, clipNorm: 1, range: 1, maxClients: 5, phaseSeconds: 30 } }),
      (e: unknown) => e instanceof Error && /wire int8 is for open updates/.test(e.message),
    );
  });
});
