/**
 * `npm run worker`: an update worker on its own, for scaling out. Any number may run, on any
 * machine that reaches Redis (a worker touches only Redis); acceptance is atomic there, so none double-counts.
 */
import { parseEnv } from './config.ts';
import { createLogger } from './logger.ts';
import { startUpdateWorker } from './queue/update-worker.ts';
import { createContext } from './server.ts';

const log = createLogger(undefined, 'worker');
try {
  const config = parseEnv(process.env);
  const ctx = createContext(config, log);
  await ctx.redis.ping();
  const worker = startUpdateWorker(ctx, config.redisUrl, config.workerConcurrency);
  await worker.ready();
  log.info({ redis: config.redisUrl, prefix: config.prefix, concurrency: config.workerConcurrency }, 'worker ready');
  const shutdown = async () => {
    await worker.close();
    await ctx.queue.close();
    await ctx.checker.close();
    ctx.redis.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
} catch (e) {
  console.error(`worker: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
