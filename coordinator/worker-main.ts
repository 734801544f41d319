/**
 * `npm run worker`: an update worker on its own, for scaling out. Any number may run, on any
 * machine that reaches Redis (a worker touches only Redis); acceptance is atomic there, so none double-counts.
 */
import { createServer } from 'node:http';
import { z } from 'zod';
import { envHelp, parseEnv } from './config.ts';
import { processRegistry } from './metrics.ts';
import { armFailpoints } from './failpoints.ts';
import { createLogger } from './logger.ts';
import { checkCluster, redisTargetOf, whenReady } from './infra/redis-connection.ts';
import { describeRedisTarget } from '../protocol/redis-target.ts';
import { startUpdateWorker } from './queue/update-worker.ts';
import { createContext } from './server.ts';
import { checkZkKeysAtStart } from './use-cases/zk-keys-at-start.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(envHelp('worker'));
  process.exit(0);
}
const log = createLogger(undefined, 'worker');
try {
  const config = parseEnv(process.env);
  armFailpoints(config.failpoints ?? []);
  if (config.failpoints?.length) log.warn({ failpoints: config.failpoints }, 'FAILPOINTS armed: this process freezes when it reaches them (fault tests only)');
  // A worker verifies membership proofs: a broken FL_ZK_KEYS folder stops it here (no chain to compare with).
  await checkZkKeysAtStart(config, undefined, log);
  const target = redisTargetOf(config);
  if (target.kind === 'cluster') await checkCluster(target);
  const ctx = createContext(config, log);
  await whenReady(ctx.redis, target);
  await ctx.redis.ping();
  const worker = startUpdateWorker(ctx, config.workerConcurrency, config.workerLockMs);
  await worker.ready();
  log.info({ redis: describeRedisTarget(target), prefix: ctx.prefix, concurrency: config.workerConcurrency }, 'worker ready');
  // This worker's own counters (updates decided, queue wait, proof timings) for Prometheus; the
  // coordinator's /metrics has the shared state. Off unless WORKER_METRICS_PORT is set.
  const metricsPort = z.coerce.number().int().min(0).max(65535).optional().parse(process.env.WORKER_METRICS_PORT || undefined);
  const metricsServer = metricsPort === undefined ? null : createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    processRegistry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': processRegistry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  }).listen(metricsPort, config.host, () => log.info({ port: metricsPort }, 'worker metrics listening'));
  const shutdown = async () => {
    metricsServer?.close();
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
