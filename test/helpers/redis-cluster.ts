import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../../coordinator/infra/redis-server.ts';
import type { ClusterNode, RedisTarget } from '../../protocol/redis-target.ts';

const run = promisify(execFile);

export interface TestCluster {
  nodes: ClusterNode[];
  /** REDIS_CLUSTER_NODES for these nodes. */
  nodesList: string;
  target: Extract<RedisTarget, { kind: 'cluster' }>;
  /** A plain connection to each master (for ACL SETUSER, SCAN and CLUSTER commands). */
  direct(): Redis[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` nodes, no replicas, all on 127.0.0.1 and on free ports, each in its
 * own temporary directory without persistence; stop() ends them and removes the directories.
 * Each node's cluster bus port is chosen too (cluster-port): the default, port + 10000, may be
 * taken or past 65535.
 */
export async function startTestCluster(masters = 3): Promise<TestCluster> {
  const servers: Awaited<ReturnType<typeof startRedisServer>>[] = [];
  const direct: Redis[] = [];
  const stop = async () => {
    for (const d of direct) d.disconnect();
    for (const s of servers) await s.stop();
  };
  try {
    for (let i = 0; i < masters; i++) {
      const bus = await freePort();
      servers.push(await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus), '--cluster-node-timeout', '5000'] }));
    }
    const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const addresses = nodes.map((n) => `${n.host}:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const n of nodes) direct.push(new Redis(n.port, n.host, { maxRetriesPerRequest: 1 }));
    // Every node must agree that every slot is served before a client can use the cluster.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(direct.map((d) => d.cluster('INFO') as Promise<string>));
      if (infos.every((i) => i.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`the test cluster did not reach cluster_state:ok: ${infos.map((i) => /cluster_state:\w+/.exec(i)?.[0]).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { nodes, nodesList: addresses.join(','), target: { kind: 'cluster', nodes }, direct: () => direct, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
