import { bullPrefix, keyNamespace, UPDATE_QUEUE } from '../../protocol/index.ts';

/** Commands inside BullMQ 5's addStandardJob-9 Lua script (read off node_modules/bullmq/dist/esm/scripts; the deduplication branches, which the uploader does not use, would also need GET, PTTL, LRANGE and PERSIST). */
export const QUEUE_ADD_SCRIPT_COMMANDS = ['del', 'exists', 'hget', 'hmget', 'hmset', 'hset', 'incr', 'llen', 'sadd', 'scard', 'xadd', 'zadd', 'zrange', 'zrem', 'zrevrangebyscore', 'zscore', 'lpush', 'rpush'] as const;

/**
 * The Redis ACL rules of an upload-only client (docs/redis-acl.md): its own blob keys (or every
 * client's, when no address is given) and the update queue's keys, with only the commands that
 * client/upload/queue-uploader.ts needs: SET for the blob, and the Lua script (EVALSHA, EVAL as
 * ioredis's fallback) through which BullMQ's Queue.add writes a job, plus the handshake commands
 * BullMQ and ioredis send on connect. Everything else, FLUSHALL, KEYS, CONFIG and reading any other
 * key included, is refused by Redis itself.
 */
export function uploaderAclRules(prefix: string, client?: string, opts: { cluster?: boolean } = {}): string[] {
  // The deployment's keys as they are in Redis: `{fl}:…` on a cluster. ACL patterns are globs, in
  // which braces are plain characters.
  const ns = keyNamespace(prefix, opts.cluster === true);
  const blobs = client ? `${ns}:blob:${client.toLowerCase()}:*` : `${ns}:blob:*`;
  return [
    'resetkeys',
    `~${blobs}`,
    `~${bullPrefix(ns)}:${UPDATE_QUEUE}:*`,
    'resetchannels',
    '-@all',
    '+set',
    '+evalsha',
    '+eval',
    '+ping',
    '+info',
    '+client|setname',
    // A cluster client asks a node for the slot map when it connects and after a MOVED reply, and
    // for the cluster's state before it calls itself ready (ioredis's ready check).
    ...(opts.cluster ? ['+cluster|slots', '+cluster|info'] : []),
    // What BullMQ's addStandardJob script calls (Redis 7 checks commands run by scripts too); a
    // client can also send these directly, on the queue's keys only (see the doc's limits).
    ...QUEUE_ADD_SCRIPT_COMMANDS.map((c) => `+${c}`),
  ];
}

/**
 * The ACL SETUSER command line for an operator to run (the password is theirs to choose). On a
 * cluster, on every node: ACL users are per node.
 */
export function uploaderAclCommand(user: string, password: string, prefix: string, client?: string, opts: { cluster?: boolean } = {}): string[] {
  return ['ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...uploaderAclRules(prefix, client, opts)];
}
