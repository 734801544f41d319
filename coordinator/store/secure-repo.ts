import type { RedisClient } from '../infra/redis-connection.ts';
import type { SecurePhase } from '../../protocol/index.ts';
import type { ScriptRunner } from './lua-scripts.ts';
import type { RedisKeys } from './redis-keys.ts';

/** Which message hash each submitting phase writes. */
export type SecureMessageKind = 'keys' | 'shares' | 'consistency' | 'reveal';
const PHASE_OF: Record<SecureMessageKind, SecurePhase> = { keys: 'keys', shares: 'shares', consistency: 'consistency', reveal: 'unmask' };

export type SubmitResult = 'ok' | 'phase' | 'duplicate' | 'full';

/** A secure round's protocol messages (signed JSON by client, one hash per phase) and its phase moves. */
export interface SecureRepo {
  submit(task: number, round: number, kind: SecureMessageKind, client: string, json: string, max: number): Promise<SubmitResult>;
  /** The phase's messages as stored, by client in ascending order. */
  messages(task: number, round: number, kind: SecureMessageKind): Promise<[client: string, json: string][]>;
  clients(task: number, round: number, kind: SecureMessageKind): Promise<string[]>;
  count(task: number, round: number, kind: SecureMessageKind): Promise<number>;
  has(task: number, round: number, kind: SecureMessageKind, client: string): Promise<boolean>;
  advance(task: number, round: number, from: SecurePhase, to: SecurePhase, deadlineMs: number, threshold?: number): Promise<boolean>;
  /** Forgets the messages once the round's transcript is stored (or the round failed). */
  drop(task: number, round: number): Promise<void>;
}

export function secureRepo(redis: RedisClient, keys: RedisKeys, scripts: ScriptRunner): SecureRepo {
  const sort = <T extends [string, string]>(xs: T[]) => xs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    async submit(task, round, kind, client, json, max) {
      return (await scripts.run('secureSubmit', [keys.round(task, round), keys.secureMessages(task, round, kind)], [PHASE_OF[kind], client, json, max])) as SubmitResult;
    },
    async messages(task, round, kind) {
      const all = await redis.hgetall(keys.secureMessages(task, round, kind));
      return sort(Object.entries(all));
    },
    async clients(task, round, kind) {
      return (await redis.hkeys(keys.secureMessages(task, round, kind))).sort();
    },
    count: (task, round, kind) => redis.hlen(keys.secureMessages(task, round, kind)),
    has: async (task, round, kind, client) => (await redis.hexists(keys.secureMessages(task, round, kind), client.toLowerCase())) === 1,
    async advance(task, round, from, to, deadlineMs, threshold) {
      return (await scripts.run('secureAdvance', [keys.round(task, round)], [from, to, deadlineMs, threshold ?? ''])) === 1;
    },
    async drop(task, round) {
      await redis.del(keys.secureMessages(task, round, 'keys'), keys.secureMessages(task, round, 'shares'), keys.secureMessages(task, round, 'consistency'), keys.secureMessages(task, round, 'reveal'));
    },
  };
}
