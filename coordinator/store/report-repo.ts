import type { Redis } from 'ioredis';
import { StoredAudit, StoredEvaluation } from '../../protocol/index.ts';

/**
 * Operator reports about a task (protocol/reports.ts): per-round evaluations in one hash per task
 * (field = round), and the latest audit summary. Keys live beside the task's own (redis-keys.ts).
 */
export interface ReportRepo {
  putEvaluation(task: number, e: StoredEvaluation): Promise<void>;
  /** Every evaluation of the task, by round. Unparseable entries are skipped, never served. */
  evaluations(task: number): Promise<StoredEvaluation[]>;
  putAudit(task: number, a: StoredAudit): Promise<void>;
  audit(task: number): Promise<StoredAudit | null>;
}

export function reportRepo(redis: Redis, prefix: string): ReportRepo {
  const evalKey = (task: number) => `${prefix}:task:${task}:evaluations`;
  const auditKey = (task: number) => `${prefix}:task:${task}:audit`;
  return {
    async putEvaluation(task, e) {
      await redis.hset(evalKey(task), String(e.round), JSON.stringify(e));
    },
    async evaluations(task) {
      const all = await redis.hvals(evalKey(task));
      return all
        .map((v) => { try { return StoredEvaluation.safeParse(JSON.parse(v)); } catch { return null; } })
        .flatMap((r) => (r?.success ? [r.data] : []))
        .sort((a, b) => a.round - b.round);
    },
    async putAudit(task, a) {
      await redis.set(auditKey(task), JSON.stringify(a));
    },
    async audit(task) {
      const v = await redis.get(auditKey(task));
      if (!v) return null;
      try {
        const r = StoredAudit.safeParse(JSON.parse(v));
        return r.success ? r.data : null;
      } catch {
        return null;
      }
    },
  };
}
