import { z } from 'zod';

/**
 * Which Redis a process talks to: one server named by URL (credentials in the URL), or a Redis
 * Cluster named by some of its nodes (ioredis discovers the rest). Shared by the coordinator, its
 * workers and fl-client, so both sides of the queue reach the same keys. No ioredis here: the
 * browser bundle imports this module's types.
 */
export type RedisTarget = { kind: 'single'; url: string } | ({ kind: 'cluster' } & RedisClusterSettings);

/** A cluster: some of its nodes, and the ACL user every node knows (a cluster's ACLs are per node). */
export interface RedisClusterSettings {
  nodes: ClusterNode[];
  username?: string;
  password?: string;
}

export interface ClusterNode {
  host: string;
  port: number;
}

// A DNS name or IPv4 address, or an IPv6 address in brackets (as in a URL).
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** One `host:port` entry of REDIS_CLUSTER_NODES / --redis-cluster-nodes. */
const ClusterNodeText = z.string().transform((entry, c): ClusterNode => {
  const m = /^(.+):(\d{1,5})$/.exec(entry);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !HOST_RE.test(m[1]!) || port < 1 || port > 65535) {
    c.addIssue({ code: 'custom', message: `'${entry}' is not host:port (e.g. redis-1:6379, 10.0.0.5:7000 or [::1]:7000)` });
    return z.NEVER;
  }
  // ioredis wants IPv6 without the brackets.
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
});

/**
 * A comma-separated list of cluster nodes (`host:port,host:port`): any reachable subset of the
 * cluster will do, as the client asks it for the rest of the topology.
 */
export const ClusterNodesList = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(ClusterNodeText).min(1, 'list at least one cluster node as host:port'));

/** A target for logs and error messages: never the password. */
export function describeRedisTarget(t: RedisTarget): string {
  if (t.kind === 'cluster') return `Redis Cluster ${t.nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',')}`;
  try {
    const u = new URL(t.url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'Redis (unparseable URL)';
  }
}
