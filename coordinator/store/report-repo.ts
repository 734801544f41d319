import type { RedisKeys } from './redis-keys.ts';
import type { RedisClient } from '../infra/redis-connection.ts';
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

export function reportRepo(redis: RedisClient, keys: RedisKeys): ReportRepo {
  const evalKey = keys.evaluations;
  const auditKey = keys.audit;
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
