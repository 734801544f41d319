import { Queue } from 'bullmq';
import type { RedisClient } from '../infra/redis-connection.ts';
import { bullPrefix, UPDATE_JOB_OPTIONS, UPDATE_QUEUE, type UpdateJob } from '../../protocol/index.ts';

/** The producer side of the update queue, used by the HTTP upload path. */
export interface UpdateQueue {
  add(job: UpdateJob): Promise<string>;
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export function createUpdateQueue(connection: RedisClient, prefix: string): UpdateQueue {
  const queue = new Queue<UpdateJob>(UPDATE_QUEUE, { connection, prefix: bullPrefix(prefix) });
  return {
    async add(job) {
      const j = await queue.add('update', job, UPDATE_JOB_OPTIONS);
      return j.id as string;
    },
    counts: () => queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed'),
    close: () => queue.close(),
  };
}
