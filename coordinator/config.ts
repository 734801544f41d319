import { resolve } from 'node:path';
import { z } from 'zod';
import { FailpointsEnv, type FailpointName } from './failpoints.ts';
import { defaultCheckThreads } from './infra/blob-checker.ts';
import { DEFAULT_S3_REGION, normalizePrefix, S3_BUCKET_RE } from './store/s3-bucket.ts';
import { ClusterNodesList, type RedisClusterSettings } from '../protocol/redis-target.ts';

/** Coordinator settings, parsed from the environment (a trust boundary like any other). */
export const CoordinatorEnv = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  REDIS_URL: z.string().url().optional(),
  /**
   * A Redis Cluster instead of REDIS_URL: some of its nodes, `host:port,host:port` (docs/deployment.md,
   * "Redis Cluster"). Every key then goes under the hash tag `{REDIS_PREFIX}`.
   */
  REDIS_CLUSTER_NODES: ClusterNodesList.optional(),
  /** REDIS_CLUSTER_NODES only: the ACL user and password for every node (a single Redis takes them in REDIS_URL). */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  DATA_DIR: z.string().default('.data'),
  ADMIN_TOKEN: z.string().min(8, 'ADMIN_TOKEN must have at least 8 characters').optional(),
  /** Namespace of every Redis key, so several deployments (or tests) can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('fl'),
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  /** Run the update worker inside the coordinator process (set 0 when workers run separately). */
  IN_PROCESS_WORKER: z.enum(['0', '1']).default('1'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  /** How long a worker's claim on a job lasts without renewal; a worker that dies mid-job hands
   * the job on to another worker after about this long (BullMQ's lock and stalled-job check). */
  WORKER_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /** Fault tests only (coordinator/failpoints.ts): names of places where the process freezes. */
  FAILPOINTS: FailpointsEnv,
  /** Threads that hash and measure deltas (0 = on the main thread); default: cores - 1. */
  CHECK_THREADS: z.coerce.number().int().min(0).max(64).optional(),
  SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Comma-separated origins allowed to call the API from browsers; unset: no CORS at all. */
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().url('each CORS origin must be a URL such as https://app.example'))),
  /** Requests per minute from one IP, over every route (0: no limit). Counted in Redis, across replicas. */
  RATE_LIMIT_PER_IP_PER_MIN: z.coerce.number().int().min(0).default(6000),
  /** Uploads and registrations per minute by one client address or nullifier (0: no limit). */
  RATE_LIMIT_PER_CLIENT_PER_MIN: z.coerce.number().int().min(0).default(120),
  /** Seconds a registration challenge stays valid. */
  REGISTRATION_CHALLENGE_TTL_S: z.coerce.number().int().min(5).max(86_400).default(300),
  /** Express "trust proxy": set when behind a reverse proxy so limits see the caller's IP (e.g. 1 or loopback). */
  TRUST_PROXY: z.string().optional(),
  /** production: private tasks refuse the development zero-knowledge keys. */
  NODE_ENV: z.string().optional(),
  /** A finalized setup-ceremony folder (fl-ceremony): its keys replace the development keys. */
  FL_ZK_KEYS: z.string().optional(),
  /** Where checkpoints, archived updates and manifests go: fs (DATA_DIR) or s3 (S3_BUCKET). */
  STORE: z.enum(['fs', 's3']).default('fs'),
  /** STORE=s3: the bucket (credentials: the AWS SDK's default chain, e.g. AWS_ACCESS_KEY_ID or AWS_PROFILE). */
  S3_BUCKET: z.string().regex(S3_BUCKET_RE, 'S3_BUCKET must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens').optional(),
  /** STORE=s3: key prefix; objects are <prefix>/<kind>/<hh>/<hash>, DATA_DIR's layout. */
  S3_PREFIX: z
    .string()
    .default('fl')
    .transform((v, c) => {
      const p = normalizePrefix(v);
      if (p === null) c.addIssue({ code: 'custom', message: "S3_PREFIX must be slash-separated segments of letters, digits, '.', '_' and '-'" });
      return p ?? v;
    }),
  /** STORE=s3: an S3-compatible server instead of AWS (e.g. http://minio:9000). */
  S3_ENDPOINT: z.string().url('S3_ENDPOINT must be a URL such as http://minio:9000').refine((u) => /^https?:/.test(u), 'S3_ENDPOINT must be http(s)').optional(),
  S3_REGION: z.string().min(1).default(DEFAULT_S3_REGION),
  /** 1: path-style URLs (endpoint/bucket/key), which most self-hosted S3-compatible servers need. */
  S3_FORCE_PATH_STYLE: z.enum(['0', '1']).default('0'),
}).superRefine(
  (e, c) => {
    if (e.STORE === 's3' && !e.S3_BUCKET) c.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'STORE=s3 needs S3_BUCKET (the bucket to keep checkpoints, updates and manifests in)' });
    // Refused rather than ignored: a password that silently goes unused is a confusing outage.
    for (const v of ['REDIS_USERNAME', 'REDIS_PASSWORD'] as const) {
      if (e[v] !== undefined && e.REDIS_CLUSTER_NODES === undefined) c.addIssue({ code: 'custom', path: [v], message: `${v} is for REDIS_CLUSTER_NODES; a single Redis takes its credentials in REDIS_URL (redis://user:password@host:port)` });
    }
  },
  // Also when another variable is bad, so that one message names every problem.
  { when: () => true },
);
export type CoordinatorEnv = z.infer<typeof CoordinatorEnv>;

/** The content store's backend: a directory (the default), or a bucket of S3-compatible storage. */
export type ContentStoreConfig =
  | { kind: 'fs' }
  | { kind: 's3'; bucket: string; prefix: string; endpoint?: string; region: string; forcePathStyle: boolean };

export interface CoordinatorConfig {
  port: number;
  host: string;
  /** A single Redis; not used for connecting when redisCluster is set. */
  redisUrl: string;
  /** A Redis Cluster (REDIS_CLUSTER_NODES): connect to it instead, with every key under `{prefix}`. */
  redisCluster?: RedisClusterSettings;
  dataDir: string;
  adminToken: string | undefined;
  /** REDIS_PREFIX as given; the keys start with keyNamespace(prefix, cluster) (protocol/queue-layout.ts). */
  prefix: string;
  chainId: number;
  inProcessWorker: boolean;
  workerConcurrency: number;
  /** Job lock and stalled-check period of the update worker (absent: 30 s). */
  workerLockMs?: number;
  /** Armed failpoints (fault tests only; absent or empty in service). */
  failpoints?: FailpointName[];
  checkThreads: number;
  schedulerIntervalMs: number;
  logLevel: CoordinatorEnv['LOG_LEVEL'];
  /** Browser origins allowed by CORS (absent or empty: CORS off). */
  corsOrigins?: string[];
  /** Per-IP and per-client limits per minute (absent or 0: off). */
  rateLimitPerIpPerMin?: number;
  rateLimitPerClientPerMin?: number;
  /** Express trust-proxy setting (absent: the socket's address is the client's). */
  trustProxy?: string;
  /** Registration challenge lifetime in seconds (absent: 300). */
  challengeTtlSeconds?: number;
  /** NODE_ENV=production: private tasks need ceremony keys (FL_ZK_KEYS). */
  production?: boolean;
  /** FL_ZK_KEYS: the finalized ceremony folder the keys come from; published read-only at /v1/ceremony unless one is hosted. */
  zkKeysDir?: string;
  /** Where content goes (absent: the file store under dataDir). */
  store?: ContentStoreConfig;
}

/** Parses env into config; throws a readable message listing every bad variable. */
export function parseEnv(env: NodeJS.ProcessEnv, redisUrl?: string): CoordinatorConfig {
  const r = CoordinatorEnv.safeParse(env);
  if (!r.success) {
    throw new Error(`invalid environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = r.data;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: redisUrl ?? e.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...(e.REDIS_CLUSTER_NODES
      ? { redisCluster: { nodes: e.REDIS_CLUSTER_NODES, ...(e.REDIS_USERNAME ? { username: e.REDIS_USERNAME } : {}), ...(e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {}) } }
      : {}),
    dataDir: e.DATA_DIR,
    adminToken: e.ADMIN_TOKEN,
    prefix: e.REDIS_PREFIX,
    chainId: e.CHAIN_ID,
    inProcessWorker: e.IN_PROCESS_WORKER === '1',
    workerConcurrency: e.WORKER_CONCURRENCY,
    workerLockMs: e.WORKER_LOCK_MS,
    failpoints: e.FAILPOINTS,
    checkThreads: e.CHECK_THREADS ?? defaultCheckThreads(),
    schedulerIntervalMs: e.SCHEDULER_INTERVAL_MS,
    logLevel: e.LOG_LEVEL,
    corsOrigins: e.CORS_ORIGINS,
    rateLimitPerIpPerMin: e.RATE_LIMIT_PER_IP_PER_MIN,
    rateLimitPerClientPerMin: e.RATE_LIMIT_PER_CLIENT_PER_MIN,
    challengeTtlSeconds: e.REGISTRATION_CHALLENGE_TTL_S,
    ...(e.TRUST_PROXY ? { trustProxy: e.TRUST_PROXY } : {}),
    production: e.NODE_ENV === 'production',
    ...(e.FL_ZK_KEYS ? { zkKeysDir: resolve(e.FL_ZK_KEYS) } : {}),
    store: e.STORE === 's3'
      ? { kind: 's3', bucket: e.S3_BUCKET!, prefix: e.S3_PREFIX, region: e.S3_REGION, forcePathStyle: e.S3_FORCE_PATH_STYLE === '1', ...(e.S3_ENDPOINT ? { endpoint: e.S3_ENDPOINT } : {}) }
      : { kind: 'fs' },
  };
}

/**
 * `npm start -- --help` / `npm run worker -- --help`: the services take no flags, only environment,
 * so their help lists every variable with its default, read from the schema itself.
 */
export function envHelp(service: 'coordinator' | 'worker'): string {
  const rows = Object.entries(CoordinatorEnv.shape).map(([name, schema]) => {
    const d = (schema as z.ZodType).safeParse(undefined);
    const shown = d.success && d.data !== undefined && !(Array.isArray(d.data) && d.data.length === 0) ? String(d.data) : '(unset)';
    return `  ${name.padEnd(32)} ${shown}`;
  });
  const chain = service === 'coordinator'
    ? '\nChain: RPC_URL, PRIVATE_KEY, REGISTRY_ADDRESS, REGISTRY_FROM_BLOCK (unset: a private anvil with fresh contracts); CHAIN=off runs without one; PUBLIC_URL, PUBLIC_RPC_URL.\n'
    : '\nA worker touches only Redis: REDIS_URL (or REDIS_CLUSTER_NODES with REDIS_USERNAME, REDIS_PASSWORD), REDIS_PREFIX, WORKER_CONCURRENCY, WORKER_LOCK_MS, CHECK_THREADS, LOG_LEVEL and WORKER_METRICS_PORT (unset: no metrics server) apply.\n';
  return `Usage: ${service === 'coordinator' ? 'npm start' : 'npm run worker'}   (configured by environment variables only)

Environment (default):
${rows.join('\n')}
${chain}
Logs: JSON lines (pino) on stderr. Exit codes: 0 stopped by SIGINT or SIGTERM; 1 bad environment or a start-up failure (the reason on stderr).
`;
}
