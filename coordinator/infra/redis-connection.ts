import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { keyNamespace } from '../../protocol/queue-layout.ts';
import { describeRedisTarget, type RedisClusterSettings, type RedisTarget } from '../../protocol/redis-target.ts';

/**
 * A connection to one Redis or to a Redis Cluster. Both expose the same commands (ioredis's
 * Commander), scripts and MULTI; a cluster routes each by its first key's slot, which is why every
 * key of a deployment shares one hash tag (protocol/queue-layout.ts keyNamespace).
 */
export type RedisClient = Redis | Cluster;

/** What a caller may ask of a connection, single or cluster (the cluster applies them per node). */
export type ConnectOptions = Pick<RedisOptions, 'maxRetriesPerRequest' | 'connectTimeout' | 'lazyConnect' | 'retryStrategy'>;

/** Where config says Redis is: REDIS_CLUSTER_NODES when set, else REDIS_URL. */
export function redisTargetOf(c: { redisUrl: string; redisCluster?: RedisClusterSettings | undefined }): RedisTarget {
  return c.redisCluster ? { kind: 'cluster', ...c.redisCluster } : { kind: 'single', url: c.redisUrl };
}

/** The start of every key of the configured deployment: `prefix`, or `{prefix}` on a cluster. */
export const keyNamespaceOf = (c: { prefix: string; redisCluster?: RedisClusterSettings | undefined }) => keyNamespace(c.prefix, c.redisCluster !== undefined);

/** Opens a connection to the target: one `new Redis(url)` or one `new Cluster(nodes)`. */
export function connectRedis(target: RedisTarget | string, opts: ConnectOptions = {}): RedisClient {
  const t: RedisTarget = typeof target === 'string' ? { kind: 'single', url: target } : target;
  if (t.kind === 'single') return new Redis(t.url, opts);
  const { retryStrategy, lazyConnect, ...perNode } = opts;
  return new Cluster(t.nodes, {
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    // A cluster retries reaching its nodes through this, not through a node's retryStrategy.
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    redisOptions: {
      ...perNode,
      ...(t.username ? { username: t.username } : {}),
      ...(t.password ? { password: t.password } : {}),
    },
  });
}

/** True for a cluster connection (whose SCAN, SCRIPT LOAD and the like must go to each master). */
export const isCluster = (r: RedisClient): r is Cluster => r instanceof Cluster;

/** The connections a node-local command (SCAN, SCRIPT LOAD) must run on: every master, or the one server. */
export function masters(r: RedisClient): Redis[] {
  return isCluster(r) ? r.nodes('master') : [r];
}

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Start-up check of a cluster: one of the given nodes answers and `CLUSTER INFO` says
 * `cluster_state:ok` (every slot served). Asked of the nodes directly: a cluster client facing a
 * half-made cluster only retries its slot map, forever, and a coordinator started against one
 * would fail on its first key in an unserved slot.
 */
export async function checkCluster(target: Extract<RedisTarget, { kind: 'cluster' }>, timeoutMs = 5000): Promise<void> {
  const where = describeRedisTarget(target);
  const failures: string[] = [];
  for (const n of target.nodes) {
    const r = new Redis({
      host: n.host,
      port: n.port,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // The socket's own error (ECONNREFUSED, WRONGPASS...) says more than the command's "Connection is closed".
    let socketError = '';
    r.on('error', (e: Error) => {
      socketError ||= e.message;
    });
    let info: string;
    try {
      await withTimeout(r.connect(), timeoutMs, () => `no answer within ${timeoutMs} ms`);
      info = String(await withTimeout(r.cluster('INFO'), timeoutMs, () => `CLUSTER INFO: no answer within ${timeoutMs} ms`));
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e);
      // A server that answers but is no cluster node is a configuration mistake, not an outage.
      if (/cluster support disabled/i.test(m)) throw new RedisUnavailableError(`${n.host}:${n.port} (REDIS_CLUSTER_NODES) is not a cluster node (cluster support disabled): for a single Redis set REDIS_URL instead`);
      failures.push(`${n.host}:${n.port}: ${socketError || m}`);
      continue;
    } finally {
      r.disconnect();
    }
    const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
    if (state !== 'ok') throw new RedisUnavailableError(`${where} is not serving every slot (cluster_state:${state} on ${n.host}:${n.port}); finish creating it (redis-cli --cluster create ...) or fix the failed nodes`);
    return;
  }
  throw new RedisUnavailableError(`${where}: no node answers (${failures.join('; ')})`);
}

/**
 * Waits for a cluster connection to be ready (slot map and ready check done). Without this a
 * cluster client whose user may not run CLUSTER SLOTS or CLUSTER INFO, or whose nodes announce
 * addresses it cannot reach, reconnects in silence and every command waits forever.
 * A single-server connection returns at once: it fails its commands by itself.
 */
export async function whenReady(r: RedisClient, target: RedisTarget, timeoutMs = 10_000): Promise<void> {
  if (!isCluster(r) || r.status === 'ready') return;
  let onReady: () => void = () => {};
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        onReady = resolve;
        r.once('ready', onReady);
        if (r.status === 'wait') r.connect().catch(() => {});
      }),
      timeoutMs,
      () => `${describeRedisTarget(target)} is not ready after ${timeoutMs} ms: check the nodes, the credentials, and that the user may run CLUSTER SLOTS and CLUSTER INFO (docs/redis-acl.md), and that the nodes' announced addresses are reachable from here`,
    );
  } finally {
    r.off('ready', onReady);
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new RedisUnavailableError(message())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
