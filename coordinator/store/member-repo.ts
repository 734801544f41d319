import type { RedisClient } from '../infra/redis-connection.ts';
import { MAX_MEMBERS } from '../../protocol/zk/members-tree.ts';
import type { ScriptRunner } from './lua-scripts.ts';
import type { RedisKeys } from './redis-keys.ts';

/** A private task's admitted identity commitments: an append-only list in admission order. */
export interface MemberRepo {
  /** Appends the new ones (duplicates are skipped); throws MEMBERS_FULL past MAX_MEMBERS. */
  admit(task: number, commitments: readonly string[]): Promise<{ admitted: number; count: number }>;
  count(task: number): Promise<number>;
  /** Commitments [from, to) in admission order, as decimal strings. */
  range(task: number, from: number, to: number): Promise<string[]>;
}

export function memberRepo(redis: RedisClient, keys: RedisKeys, scripts: ScriptRunner): MemberRepo {
  return {
    async admit(task, commitments) {
      const [admitted, count] = (await scripts.run('admitMembers', [keys.members(task), keys.memberSet(task)], [...commitments, MAX_MEMBERS])) as [number, number];
      return { admitted: Number(admitted), count: Number(count) };
    },
    count: (task) => redis.llen(keys.members(task)),
    async range(task, from, to) {
      if (to <= from) return [];
      return redis.lrange(keys.members(task), from, to - 1);
    },
  };
}
