import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { blobKey, bullPrefix, UPDATE_JOB_OPTIONS, UPDATE_QUEUE } from '../../protocol/index.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';

// How the worker tells faults (retry) from refusals (record, never retry).
describe('update worker: faults are retried, refusals are not', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let conn: Redis;
  let queue: Queue;
  before(async () => {
    env = await startTestCoordinator();
    conn = new Redis(env.config.redisUrl);
    queue = new Queue(UPDATE_QUEUE, { connection: conn, prefix: bullPrefix(env.config.prefix) });
  });
  after(async () => {
    await queue.close();
    conn.disconnect();
    await env.cleanup();
  });

  test('a job that hits a storage fault is retried and, once the fault clears, accepted exactly once', async () => {
    const { ctx } = env.c;
    const task = await createTask(ctx, { name: 'faults', model: 'iris-mlp' });
    const round = await openRound(ctx, task.id, { durationSeconds: 120, minClients: 1, maxClients: 5 });
    const owner = await makeOwner(ctx, task, 11);
    // The fault: the coordinator's own task record is unreadable for a while (as after a partial
    // write or a failed-over replica). That is not the client's fault, so the job must be retried.
    const def = (await ctx.redis.hget(ctx.keys.task(task.id), 'def'))!;
    await ctx.redis.hset(ctx.keys.task(task.id), 'def', '{"broken":');
    const { jobId } = await queueUpload(env.config.redisUrl, env.config.prefix, await owner.update(round.round, round.baseHash));
    await waitFor('first attempt failed', async () => ((await queue.getJob(jobId))?.attemptsMade ?? 0) >= 1);
    await ctx.redis.hset(ctx.keys.task(task.id), 'def', def);

    const r = await waitFor('accepted', async () => {
      const s = await ctx.rounds.get(task.id, round.round);
      return s && s.accepted === 1 ? s : null;
    });
    assert.equal(r.rejected, 0, 'a fault is not recorded as a rejection');
    // The round counts the accept inside the processor; BullMQ bumps attemptsMade and moves the job
    // to completed only after the processor returns, so wait for that before reading either.
    const job = await waitFor('job completed', async () => {
      const j = await queue.getJob(jobId);
      return j && (await j.getState()) === 'completed' ? j : null;
    });
    assert.ok(job.attemptsMade >= 2, `attempts: ${job.attemptsMade}`);
    assert.equal(await job.getState(), 'completed');
  });

  test('a hostile blob of the wrong Redis type is a recorded refusal, not an endless retry', async () => {
    const { ctx } = env.c;
    const task = await createTask(ctx, { name: 'wrongtype', model: 'iris-mlp' });
    const round = await openRound(ctx, task.id, { durationSeconds: 120, minClients: 1, maxClients: 5 });
    const owner = await makeOwner(ctx, task, 12);
    const u = await owner.update(round.round, round.baseHash);
    await ctx.redis.hset(blobKey(env.config.prefix, u.meta.client, u.meta.updateHash), 'not', 'a delta');
    const job = await queue.add('update', { ...u.meta, via: 'queue', submittedAt: Date.now() }, UPDATE_JOB_OPTIONS);
    const r = await waitFor('rejected', async () => {
      const s = await ctx.rounds.get(task.id, round.round);
      return s && s.rejected === 1 ? s : null;
    });
    assert.equal(r.rejections[0]!.code, 'BAD_BLOB');
    // The rejection is recorded inside the processor; the job reaches BullMQ's failed set just after.
    const after = await waitFor('job failed', async () => {
      const j = await queue.getJob(job.id!);
      return j && (await j.getState()) === 'failed' ? j : null;
    });
    assert.equal(after.attemptsMade, 1, 'refusals are never retried');
  });
});
