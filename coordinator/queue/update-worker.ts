import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { hostname } from 'node:os';
import { bullPrefix, UPDATE_QUEUE, updateJobSchemaFor, type Rejection, type UpdateJob } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { connectRedis } from '../infra/redis-connection.ts';
import { UpdateRejected } from '../errors.ts';
import { metrics } from '../metrics.ts';
import { processUpdate, type ProcessOutcome } from '../use-cases/process-update.ts';

export interface UpdateWorker {
  close(): Promise<void>;
  /** Resolves once the worker is connected and taking jobs. */
  ready(): Promise<void>;
}

/**
 * The queue's consumer: a thin shell over processUpdate. Refusals are recorded on the round and
 * made unrecoverable (BullMQ must not retry them); any other error is a fault and is retried.
 */
export function startUpdateWorker(ctx: CoordinatorContext, concurrency: number, lockMs = 30_000): UpdateWorker {
  // BullMQ's blocking commands need their own connection, which must retry forever (on a cluster:
  // each node's commands; BullMQ checks the cluster's per-node options).
  const connection = connectRedis(ctx.redisTarget, { maxRetriesPerRequest: null });
  const worker = new Worker<unknown, ProcessOutcome>(
    UPDATE_QUEUE,
    async (job: Job<unknown, ProcessOutcome>) => {
      const jobId = job.id as string;
      // First attempt only: a retry's wait includes its back-off, which is not queueing.
      if (job.attemptsMade === 0) metrics.queueWait.observe(Math.max(0, Date.now() - job.timestamp) / 1000);
      try {
        const out = await processUpdate(ctx, jobId, job.data);
        if (out.status === 'accepted') {
          metrics.updates.inc({ outcome: 'accepted', reason: '' });
          ctx.log.debug({ jobId, task: out.task, round: out.round }, 'update accepted');
        }
        return out;
      } catch (e) {
        if (!(e instanceof UpdateRejected)) throw e;
        await recordRejection(ctx, jobId, job.data, e);
        metrics.updates.inc({ outcome: 'rejected', reason: e.code });
        throw new UnrecoverableError(e.message);
      }
    },
    {
      connection,
      prefix: bullPrefix(ctx.prefix),
      concurrency,
      autorun: true,
      name: `${hostname()}:${process.pid}`,
      // A worker that dies mid-job stops renewing its lock; after lockMs another worker's stalled
      // check puts the job back, and the retry finds the blob in the work key (processUpdate).
      lockDuration: lockMs,
      stalledInterval: lockMs,
    },
  );
  worker.on('error', (e) => ctx.log.error({ err: e }, 'update worker error'));
  worker.on('failed', (job, e) => {
    if (!job || e instanceof UnrecoverableError || e.name === 'UnrecoverableError') return;
    if (job.attemptsMade < (job.opts.attempts ?? 1)) ctx.log.warn({ jobId: job.id, err: e.message, attempt: job.attemptsMade }, 'update job failed, will retry');
    // Out of retries on a fault (not a refusal): the update is neither accepted nor rejected.
    // Say so loudly; the job stays in BullMQ's failed set for an operator to retry.
    else ctx.log.error({ jobId: job.id, err: e.message, attempts: job.attemptsMade }, 'update job failed permanently after retries');
  });
  return {
    async close() {
      await worker.close();
      connection.disconnect();
    },
    ready: () => worker.waitUntilReady().then(() => undefined),
  };
}

async function recordRejection(ctx: CoordinatorContext, jobId: string, data: unknown, e: UpdateRejected) {
  // Name the round when the payload allows it; otherwise file it under stray rejections.
  const loose = updateJobSchemaFor(data).partial().safeParse(data);
  const d: Partial<UpdateJob> = loose.success ? loose.data : {};
  const sender = 'nullifier' in d ? d.nullifier : 'client' in d ? d.client : undefined;
  const rejection: Rejection = {
    jobId,
    client: typeof sender === 'string' ? sender : 'unknown',
    updateHash: typeof d.updateHash === 'string' ? d.updateHash : 'unknown',
    code: e.code,
    reason: e.reason,
    at: new Date(ctx.now()).toISOString(),
  };
  const round = d.task && d.round ? await ctx.rounds.head(d.task, d.round) : null;
  if (round) await ctx.rounds.reject(round.task, round.round, jobId, rejection);
  else {
    await ctx.rounds.recordStray(rejection);
    await ctx.redis.del(ctx.keys.work(jobId));
  }
  ctx.log.info({ jobId, code: e.code, reason: e.reason, task: d.task, round: d.round }, 'update rejected');
}
