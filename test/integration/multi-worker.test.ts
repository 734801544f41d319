import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { bullPrefix, UPDATE_JOB_OPTIONS, UPDATE_QUEUE } from '../../protocol/index.ts';
import { startCoordinator } from '../../coordinator/server.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { isolatedConfig, silentLog, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';

// Workers scale out as separate processes (`npm run worker`). Acceptance is one atomic step in
// Redis, so two workers racing over the same and replayed jobs never count an update twice.
describe('several worker processes', () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const f of cleanups) await f();
  });

  test('two worker processes share the queue without double counting', async () => {
    const { config, cleanup } = await isolatedConfig({ inProcessWorker: false });
    cleanups.push(cleanup);
    const c = await startCoordinator(config, { log: silentLog() });
    cleanups.push(() => c.stop());
    for (let i = 0; i < 2; i++) {
      const w = spawn(process.execPath, ['--import', 'tsx', 'coordinator/worker-main.ts'], {
        env: { ...process.env, REDIS_URL: config.redisUrl, REDIS_PREFIX: config.prefix, WORKER_CONCURRENCY: '3', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(w);
    }
    const task = await createTask(c.ctx, { name: 'scale', model: 'iris-mlp' });
    const K = 12;
    const round = await openRound(c.ctx, task.id, { durationSeconds: 300, minClients: K, maxClients: K });
    const owners = await Promise.all(Array.from({ length: K }, (_, i) => makeOwner(c.ctx, task, 100 + i)));
    const ups = await Promise.all(owners.map((o) => o.update(1, round.baseHash)));

    // Every update goes in once through the normal path, and once more as a replayed job.
    const conn = new Redis(config.redisUrl);
    const queue = new Queue(UPDATE_QUEUE, { connection: conn, prefix: bullPrefix(config.prefix) });
    // A Queue does not close a connection it was handed.
    cleanups.push(async () => {
      await queue.close();
      conn.disconnect();
    });
    await Promise.all(ups.map((u) => queueUpload(config.redisUrl, config.prefix, u)));
    await Promise.all(ups.map((u) => queue.add('update', { ...u.meta, via: 'queue', submittedAt: Date.now() }, UPDATE_JOB_OPTIONS)));

    const done = await waitFor(
      'round aggregated and every job decided',
      async () => {
        const r = await c.ctx.rounds.get(task.id, 1);
        return r?.state === 'aggregated' && r.accepted + r.rejected === 2 * K ? r : null;
      },
      60_000,
    );
    assert.equal(done.accepted, K);
    assert.equal(new Set(done.acceptedUpdates.map((u) => u.client)).size, K, 'one accepted update per client');
    assert.equal(done.rejected, K);
    for (const r of done.rejections) assert.ok(['DUPLICATE', 'BLOB_MISSING', 'ROUND_CLOSED'].includes(r.code), `replay rejected as ${r.code}`);

    const jobs = [...(await queue.getCompleted(0, 100)), ...(await queue.getFailed(0, 100))];
    const workers = new Set(jobs.map((j) => j.processedBy).filter(Boolean));
    assert.ok(workers.size >= 2, `jobs were processed by ${workers.size} worker(s): ${[...workers].join(', ')}`);
  });
});
