/**
 * Redis restarted under a running coordinator (its own redis-server with the append-only file on, on
 * its own port): the open round, its accepted updates and the queue survive, the coordinator and its
 * worker reconnect by themselves, and the round completes with every update counted once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Wallet } from 'ethers';
import { freePort, startRedisServer } from '../../coordinator/infra/redis-server.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { Round, Task } from '../../protocol/index.ts';
import { isolation, silentLog, testConfig, waitFor } from '../helpers/env.ts';
import { adminPost, buildUpdate, decisionOf, getRound, IRIS_PARAMS, queueProducer, randomDelta, registerWallet } from '../helpers/updates.ts';

describe('Redis restarted mid-round (AOF on)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => console.error('cleanup failed:', e));
  });

  test('the round, its accepted updates and the queue survive; the round completes, each update counted once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-redis-aof-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let redis = await startRedisServer({ port, dir, appendOnly: true });
    cleanups.push(() => redis.stop());
    const { prefix, dataDir } = isolation();
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const c: RunningCoordinator = await startCoordinator(await testConfig({ redisUrl: redis.url, prefix, dataDir }), { log: silentLog() });
    cleanups.push(() => c.stop());
    const producer = queueProducer(redis.url, prefix);
    cleanups.push(() => producer.close());

    const task = Task.parse(await adminPost(c.url, '/v1/tasks', { name: 'aof', model: 'iris-mlp' }));
    const wallets = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
    for (const w of wallets) assert.equal((await registerWallet(c.url, task.id, w, task.eip712)).status, 201);
    const round = Round.parse(await adminPost(c.url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 300, minClients: 3, maxClients: 3 }));
    const target = { task: task.id, round: round.round, baseHash: round.baseHash, domain: task.eip712 };
    const updates = await Promise.all(wallets.map((w, i) => buildUpdate({ target, wallet: w, delta: randomDelta(IRIS_PARAMS, 70 + i) })));
    for (const u of updates.slice(0, 2)) assert.equal((await decisionOf(c.url, task.id, round.round, await producer.upload(u))).status, 'accepted');

    // Restart Redis on the same port and data directory.
    await redis.stop();
    redis = await startRedisServer({ port, dir, appendOnly: true });
    await waitFor('coordinator reconnected', async () => (await fetch(`${c.url}/v1/health`)).status === 200, 30_000, 100);

    const before = await getRound(c.url, task.id, round.round);
    assert.equal(before.state, 'open', 'the open round survived');
    assert.equal(before.accepted, 2, 'its accepted updates survived');
    const late = await waitFor('third upload queued', async () => producer.upload(updates[2]!).catch(() => null), 30_000, 200);
    assert.equal((await decisionOf(c.url, task.id, round.round, late, 30_000)).status, 'accepted');
    const r = await waitFor('aggregated', async () => {
      const x = await getRound(c.url, task.id, round.round);
      return x.state === 'aggregated' ? x : null;
    }, 30_000);
    assert.equal(r.accepted, 3);
    assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 3);
    assert.ok(r.checkpointHash);
  });
});
