/** `npm start`: the coordinator service, configured from the environment (see README). */
import { setupChain } from './chain/chain-setup.ts';
import { envHelp, parseEnv } from './config.ts';
import { ensureRedis } from './infra/redis-server.ts';
import { checkCluster, keyNamespaceOf } from './infra/redis-connection.ts';
import { describeRedisTarget } from '../protocol/redis-target.ts';
import { armFailpoints } from './failpoints.ts';
import { createLogger } from './logger.ts';
import { startCoordinator } from './server.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(envHelp('coordinator'));
  process.exit(0);
}
const log = createLogger();
const stops: (() => Promise<void>)[] = [];
try {
  // A cluster is never started for you: it must exist, with every slot served, before we use it.
  let config = parseEnv(process.env);
  if (config.redisCluster) {
    const target = { kind: 'cluster' as const, ...config.redisCluster };
    await checkCluster(target);
    if (process.env.REDIS_URL) log.warn('REDIS_CLUSTER_NODES is set: REDIS_URL is not used');
    log.info({ redis: describeRedisTarget(target), prefix: keyNamespaceOf(config) }, 'using a Redis Cluster: every key under the hash tag of REDIS_PREFIX');
  } else {
    const redis = await ensureRedis(process.env.REDIS_URL);
    stops.push(() => redis.stop());
    if (redis.private) log.warn({ url: redis.url }, 'no Redis given or found: started a private redis-server (data is lost on exit)');
    config = parseEnv(process.env, redis.url);
  }
  armFailpoints(config.failpoints ?? []);
  if (config.failpoints?.length) log.warn({ failpoints: config.failpoints }, 'FAILPOINTS armed: this process freezes when it reaches them (fault tests only)');
  if (!config.adminToken) log.warn('ADMIN_TOKEN is not set: admin routes (create task, open round) are disabled');
  const chain = await setupChain(process.env, log);
  if (chain) stops.push(() => chain.stop());
  else log.warn('CHAIN=off: rounds are aggregated but not committed on any chain');
  const c = await startCoordinator(config, { log, ...(chain ? { chain: chain.client } : {}), ...(process.env.PUBLIC_URL ? { publicUrl: process.env.PUBLIC_URL } : {}) });
  stops.push(() => c.stop());
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    for (const stop of stops.reverse()) await stop().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
} catch (e) {
  console.error(`coordinator: ${e instanceof Error ? e.message : e}`);
  for (const stop of stops.reverse()) await stop().catch(() => {});
  process.exit(1);
}
