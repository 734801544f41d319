import type { RedisClient } from './redis-connection.ts';

// KEYS[1] the lock, ARGV[1] our token (ARGV[2] the new lifetime in ms): act only while we still hold it.
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export interface HeldLock {
  /** Stops renewing and deletes the lock if it is still ours (compare-and-delete). */
  release(): Promise<void>;
}

/**
 * A short Redis lock renewed every third of its lifetime while held: a holder that dies frees it
 * within `ms`, one that lives keeps it however long its work takes. Null when someone else holds it.
 */
export async function takeRenewedLock(redis: RedisClient, key: string, ms: number): Promise<HeldLock | null> {
  const token = `${process.pid}-${Math.random()}`;
  if ((await redis.set(key, token, 'PX', ms, 'NX')) !== 'OK') return null;
  const renew = setInterval(() => {
    redis.eval(RENEW, 1, key, token, ms).catch(() => {});
  }, ms / 3);
  return {
    async release() {
      clearInterval(renew);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}
