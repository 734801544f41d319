/**
 * Container health probes (docker-compose.yml and the Dockerfile's HEALTHCHECK). Exit 0 when
 * healthy, else 1 with one line on stderr:
 *
 *   node --import tsx scripts/healthcheck.ts http URL   an HTTP GET answers 2xx (the coordinator's /v1/health)
 *   node --import tsx scripts/healthcheck.ts rpc URL    a JSON-RPC node answers eth_chainId (anvil)
 *   node --import tsx scripts/healthcheck.ts worker     this host's update worker is registered with
 *                                                       BullMQ (REDIS_URL or REDIS_CLUSTER_NODES,
 *                                                       REDIS_PREFIX as for the worker)
 *
 * The worker probe asks Redis, not the process: a worker whose Redis connection is gone has dropped
 * out of BullMQ's client list, and that is the failure that matters (the process itself is PID 1).
 */
import { hostname } from 'node:os';
import { z } from 'zod';

const TIMEOUT_MS = 4000;

async function httpOk(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return `GET ${url}: HTTP ${res.status}`;
}

const RpcReply = z.object({ result: z.string().regex(/^0x[0-9a-fA-F]+$/) });

async function rpcOk(url: string): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const reply = RpcReply.safeParse(await res.json().catch(() => null));
  if (!reply.success) throw new Error(`${url}: no eth_chainId answer (HTTP ${res.status})`);
  return `${url}: chain id ${Number(reply.data.result)}`;
}

async function workerOk(): Promise<string> {
  // Loaded here so the HTTP and RPC probes, which run every few seconds, stay light.
  const [{ Queue }, { connectRedis, keyNamespaceOf, redisTargetOf }, { parseEnv }, { bullPrefix, UPDATE_QUEUE }] = await Promise.all([
    import('bullmq'),
    import('../coordinator/infra/redis-connection.ts'),
    import('../coordinator/config.ts'),
    import('../protocol/queue-layout.ts'),
  ]);
  const config = parseEnv(process.env);
  const connection = connectRedis(redisTargetOf(config), { connectTimeout: TIMEOUT_MS, maxRetriesPerRequest: 1, lazyConnect: true });
  connection.on('error', () => {});
  const queue = new Queue(UPDATE_QUEUE, { connection, prefix: bullPrefix(keyNamespaceOf(config)) });
  try {
    // update-worker.ts names each worker `<hostname>:<pid>`; BullMQ puts that after ':w:'.
    const mine = `:w:${hostname()}:`;
    const workers = await queue.getWorkers();
    if (!workers.some((w) => String(w.rawname ?? '').includes(mine))) throw new Error(`no update worker of host ${hostname()} is registered (${workers.length} others are)`);
    return `update worker of ${hostname()} registered`;
  } finally {
    await queue.close().catch(() => {});
    connection.disconnect();
  }
}

const [mode, target] = process.argv.slice(2);
const probes: Record<string, () => Promise<string>> = {
  http: () => httpOk(z.string().url().parse(target)),
  rpc: () => rpcOk(z.string().url().parse(target)),
  worker: workerOk,
};
const probe = mode ? probes[mode] : undefined;
if (!probe) {
  console.error('usage: healthcheck.ts http URL | rpc URL | worker');
  process.exit(1);
}
try {
  console.log(await probe());
  process.exit(0);
} catch (e) {
  console.error(`unhealthy: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
