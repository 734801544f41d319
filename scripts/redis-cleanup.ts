import type { RedisTarget } from '../protocol/redis-target.ts';
import { connectRedis, masters, whenReady } from '../coordinator/infra/redis-connection.ts';

/**
 * Deletes every key under `prefix:` with SCAN + DEL: other users of the same Redis are left alone
 * (never FLUSHALL). On a cluster SCAN sees only the node it runs on, so it runs on every master;
 * pass the key namespace (`{fl}` on a cluster, protocol/queue-layout.ts keyNamespace).
 */
export async function deletePrefixKeys(target: string | RedisTarget, prefix: string): Promise<void> {
  const r = connectRedis(target, { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    // A cluster learns its masters on connecting; before that nodes() is empty.
    if (typeof target !== 'string') await whenReady(r, target);
    for (const node of masters(r)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (!keys.length) continue;
        // One DEL per key, pipelined on this node: a cluster refuses a DEL whose keys span slots,
        // and keys under a prefix without a hash tag do.
        const res = await node.pipeline(keys.map((k) => ['del', k])).exec();
        const failed = res?.find(([e]) => e)?.[0];
        if (failed) throw failed;
      } while (cursor !== '0');
    }
  } finally {
    r.disconnect();
  }
}
