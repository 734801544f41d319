/** `npm start`: the coordinator service, configured from the environment. */
import { parseEnv } from './config.ts';
import { ensureRedis } from './infra/redis-server.ts';
import { createLogger } from './logger.ts';
import { startCoordinator } from './server.ts';

const log = createLogger();
try {
  const redis = await ensureRedis(process.env.REDIS_URL);
  if (redis.private) log.warn({ url: redis.url }, 'no Redis given or found: started a private redis-server (data is lost on exit)');
  const config = parseEnv(process.env, redis.url);
  if (!config.adminToken) log.warn('ADMIN_TOKEN is not set: admin routes (create task, open round) are disabled');
  const c = await startCoordinator(config, { log });
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await c.stop();
    await redis.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
} catch (e) {
  log.fatal({ err: e instanceof Error ? e.message : e }, 'coordinator failed to start');
  console.error(`coordinator: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
