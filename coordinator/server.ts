import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_DOMAIN } from '../protocol/index.ts';
import type { CoordinatorConfig } from './config.ts';
import type { CoordinatorContext } from './context.ts';
import { chainInfo } from './chain/chain-info.ts';
import type { ChainClient } from './chain/chain-client.ts';
import { startChainWriter, type ChainWriter } from './chain/chain-writer.ts';
import { createApp } from './http/app.ts';
import { publishedCeremony } from './use-cases/ceremony-host.ts';
import { checkZkKeysAtStart } from './use-cases/zk-keys-at-start.ts';
import { createBlobChecker } from './infra/blob-checker.ts';
import { connectRedis, keyNamespaceOf, redisTargetOf, whenReady } from './infra/redis-connection.ts';
import { createLogger, type Logger } from './logger.ts';
import { createUpdateQueue } from './queue/update-queue.ts';
import { startUpdateWorker, type UpdateWorker } from './queue/update-worker.ts';
import { startScheduler, type Scheduler } from './scheduler.ts';
import { openContentStore } from './store/open-content-store.ts';
import { scriptRunner } from './store/lua-scripts.ts';
import { redisKeys } from './store/redis-keys.ts';
import { secureRepo } from './store/secure-repo.ts';
import { roundRepo } from './store/round-repo.ts';
import { taskRepo } from './store/task-repo.ts';
import { memberRepo } from './store/member-repo.ts';
import { MembersTrees } from './members-trees.ts';

export interface RunningCoordinator {
  url: string;
  port: number;
  ctx: CoordinatorContext;
  scheduler: Scheduler;
  worker: UpdateWorker | null;
  chainWriter: ChainWriter | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  now?: () => number;
  /** Listen for HTTP (default true); a pure worker process sets false. */
  http?: boolean;
  /** Run the round scheduler on its timer (default true); false leaves it manual (scheduler.tick()). */
  scheduler?: boolean;
  /** The chain to commit rounds to; without it rounds end at 'aggregated'. */
  chain?: ChainClient;
  /** Milliseconds between chain-writer passes (default 500). */
  chainIntervalMs?: number;
  /** Base URL the checkpoints are published under, for the commit's artifact URI (default: the listen URL). */
  publicUrl?: string;
}

/** Builds the context every use-case runs against (Redis, store, queue producer). */
export function createContext(config: CoordinatorConfig, log: Logger, now: () => number = Date.now): CoordinatorContext {
  const redisTarget = redisTargetOf(config);
  const redis = connectRedis(redisTarget, { maxRetriesPerRequest: 3 });
  redis.on('error', (e: Error) => log.warn({ err: e.message }, 'redis connection error'));
  // On a cluster every key goes under one hash tag, `{prefix}`, so every script's keys share a slot.
  const prefix = keyNamespaceOf(config);
  const keys = redisKeys(prefix);
  const scripts = scriptRunner(redis);
  const members = memberRepo(redis, keys, scripts);
  return {
    redis,
    redisTarget,
    prefix,
    keys,
    tasks: taskRepo(redis, keys),
    rounds: roundRepo(redis, keys, scripts),
    secure: secureRepo(redis, keys, scripts),
    members,
    membersTrees: new MembersTrees(members),
    store: openContentStore(config.store, config.dataDir),
    queue: createUpdateQueue(redis, prefix),
    domain: { ...DEFAULT_DOMAIN, chainId: config.chainId },
    // Its threads read queued blobs from Redis themselves (on connections of their own to the same target).
    checker: createBlobChecker(config.checkThreads, { client: redis, target: redisTarget }),
    log,
    now,
    production: config.production === true,
  };
}

/** Starts the coordinator: HTTP API, scheduler and (unless disabled) an in-process update worker. */
export async function startCoordinator(config: CoordinatorConfig, opts: StartOptions = {}): Promise<RunningCoordinator> {
  const log = opts.log ?? createLogger(config.logLevel);
  await checkZkKeysAtStart(config, opts.chain, log);
  const ctx = createContext(config, log, opts.now);
  try {
    await whenReady(ctx.redis, ctx.redisTarget);
    await ctx.redis.ping();
    // A bucket that cannot be reached stops the start here, not the first round close.
    await ctx.store.probe?.();
  } catch (e) {
    await ctx.queue.close();
    await ctx.checker.close();
    ctx.redis.disconnect();
    throw e;
  }
  const worker = config.inProcessWorker ? startUpdateWorker(ctx, config.workerConcurrency, config.workerLockMs) : null;
  if (worker) await worker.ready();
  const scheduler = opts.scheduler === false ? startScheduler(ctx, null, null) : startScheduler(ctx, connectRedis(ctx.redisTarget), config.schedulerIntervalMs);

  let server: Server | null = null;
  let port = 0;
  if (opts.http !== false) {
    const app = createApp(ctx, {
      adminToken: config.adminToken,
      chain: opts.chain ? chainInfo(opts.chain) : null,
      protection: { corsOrigins: config.corsOrigins, perIpPerMinute: config.rateLimitPerIpPerMin, perClientPerMinute: config.rateLimitPerClientPerMin },
      ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
      ...(config.challengeTtlSeconds ? { challengeTtlSeconds: config.challengeTtlSeconds } : {}),
      ceremony: publishedCeremony(config.dataDir, config.zkKeysDir, { log, ...(opts.chain ? { rpcUrl: opts.chain.settings.rpcUrl } : {}) }),
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
      s.once('error', reject);
    });
    port = (server.address() as AddressInfo).port;
    log.info({ url: `http://${config.host}:${port}`, worker: !!worker }, 'coordinator listening');
  }
  const chainWriter = opts.chain
    ? startChainWriter(ctx, opts.chain, { intervalMs: opts.chainIntervalMs ?? 500, publicUrl: opts.publicUrl ?? (server ? `http://${config.host}:${port}` : undefined) })
    : null;
  let stopped = false;
  return {
    url: `http://${config.host}:${port}`,
    port,
    ctx,
    scheduler,
    worker,
    chainWriter,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (server) {
        server.closeAllConnections?.();
        await new Promise<void>((r) => server!.close(() => r()));
      }
      await scheduler.stop();
      await chainWriter?.stop();
      await worker?.close();
      await ctx.queue.close();
      await ctx.checker.close();
      ctx.redis.disconnect();
    },
  };
}
