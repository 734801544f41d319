/**
 * Redis restarted under a running coordinator process (the project's own redis-server with the
 * append-only file on, on its own port): the open round, its accepted updates and the queue survive,
 * the coordinator and its worker reconnect by themselves, and the round completes with every update
 * counted once, is committed once on a real chain, and audits clean.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort, startRedisServer } from '../../coordinator/infra/redis-server.ts';
import { waitFor } from '../helpers/env.ts';
import { decisionOf, getRound } from '../helpers/updates.ts';
import { commitsOf, expectAudited, faultSetup, openTaskRound, runCleanups, uploadAccepted, waitCommitted, type Cleanups } from './harness.ts';

describe('Redis restarted mid-round (AOF on)', () => {
  const cleanups: Cleanups = [];
  after(() => runCleanups(cleanups));

  test('the round, its accepted updates and the queue survive; the round completes, each update counted once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-redis-aof-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let redis = await startRedisServer({ port, dir, appendOnly: true });
    cleanups.push(() => redis.stop());
    const s = await faultSetup(cleanups, { redisUrl: redis.url });
    const c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 3);
    await uploadAccepted(s.producer, c.url, task.id, round.round, updates.slice(0, 2));

    // Restart Redis on the same port and data directory.
    await redis.stop();
    redis = await startRedisServer({ port, dir, appendOnly: true });
    await waitFor('coordinator reconnected', async () => (await fetch(`${c.url}/v1/health`)).status === 200, 30_000, 100);

    const before = await getRound(c.url, task.id, round.round);
    assert.equal(before.state, 'open', 'the open round survived');
    assert.equal(before.accepted, 2, 'its accepted updates survived');
    const late = await waitFor('third upload queued', async () => s.producer.upload(updates[2]!).catch(() => null), 30_000, 200);
    assert.equal((await decisionOf(c.url, task.id, round.round, late, 30_000)).status, 'accepted');
    const r = await waitCommitted(c.url, task.id, round.round);
    assert.equal(r.accepted, 3);
    assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 3);
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });
});
