import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { CoordinatorConfig } from '../../coordinator/config.ts';
import { ensureRedis, type RedisHandle } from '../../coordinator/infra/redis-server.ts';
import { deletePrefixKeys } from '../../scripts/redis-cleanup.ts';
import { keyNamespaceOf, redisTargetOf } from '../../coordinator/infra/redis-connection.ts';
import { startCoordinator, type RunningCoordinator, type StartOptions } from '../../coordinator/server.ts';

export const ADMIN = 'test-admin-token';

let shared: Promise<RedisHandle> | undefined;
/** The Redis the tests use: REDIS_URL, else the local one, else a private redis-server. */
export function testRedis(): Promise<RedisHandle> {
  shared ??= ensureRedis(process.env.REDIS_URL);
  return shared;
}

/** A fresh key prefix and data directory per test, so tests never see each other's state. */
export function isolation() {
  const prefix = `test-${randomBytes(5).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'fl-test-'));
  return { prefix, dataDir };
}

export async function testConfig(over: Partial<CoordinatorConfig> = {}): Promise<CoordinatorConfig> {
  // A test with its own redis-server names it; only the others need the shared one.
  const redisUrl = over.redisUrl ?? (await testRedis()).url;
  const iso = isolation();
  return {
    port: 0,
    host: '127.0.0.1',
    redisUrl,
    dataDir: iso.dataDir,
    adminToken: ADMIN,
    prefix: iso.prefix,
    chainId: 31337,
    inProcessWorker: true,
    workerConcurrency: 2,
    checkThreads: 1,
    schedulerIntervalMs: 50,
    logLevel: 'silent',
    ...over,
  };
}

export const silentLog = () => pino({ level: process.env.TEST_LOG ?? 'silent' });

/** A test config plus the cleanup of what it names: its Redis keys (never FLUSHALL) and its data directory. */
export async function isolatedConfig(over: Partial<CoordinatorConfig> = {}) {
  const config = await testConfig(over);
  return {
    config,
    async cleanup() {
      // The keys as they are in Redis: under `{prefix}`, on every master, for a cluster config.
      await deletePrefix(redisTargetOf(config), keyNamespaceOf(config));
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts a coordinator for a test; cleanup() stops it and deletes its keys and files (never FLUSHALL). */
export async function startTestCoordinator(over: Partial<CoordinatorConfig> = {}, opts: StartOptions = {}) {
  const iso = await isolatedConfig(over);
  let c: RunningCoordinator;
  try {
    c = await startCoordinator(iso.config, { log: silentLog(), ...opts });
  } catch (e) {
    await iso.cleanup();
    throw e;
  }
  return {
    c,
    config: iso.config,
    async cleanup() {
      await c.stop();
      await iso.cleanup();
    },
  };
}

/** Deletes every key under a prefix, leaving everyone else's keys alone. */
export const deletePrefix = deletePrefixKeys;

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
