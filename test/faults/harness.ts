/**
 * What the process-level fault tests share: a fresh anvil with the contracts, an isolated Redis
 * prefix and data dir, the coordinator and workers as real child processes on that chain, a task
 * with registered wallets and one open round, and the end-of-test checks (commits on chain, audit).
 */
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { freePort } from '../../coordinator/infra/redis-server.ts';
import { Round, Task } from '../../protocol/index.ts';
import { startCoordinatorProcess, startWorkerProcess, type CoordinatorProcess, type ServiceProcess } from '../../scripts/coordinator-process.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { commitsOf, expectAudited } from '../helpers/chain-audit.ts';
import { ADMIN, isolatedConfig, waitFor } from '../helpers/env.ts';
import { buildUpdate, decisionOf, getRound, IRIS_PARAMS, openRoundFor, queueProducer, randomDelta, type BuiltUpdate, type QueueProducer } from '../helpers/updates.ts';

export { commitsOf, expectAudited };

export type Cleanups = (() => Promise<void>)[];

export async function runCleanups(cleanups: Cleanups) {
  for (const c of cleanups.reverse()) await c().catch((e) => console.error('cleanup failed:', e));
}

/** A fresh chain, prefix, data dir and port (one registry serves one coordinator deployment). */
export async function faultSetup(cleanups: Cleanups, o: { rpcVia?: (rpcPort: number) => Promise<string>; env?: Record<string, string>; redisUrl?: string } = {}) {
  const chain: Chain = await startChain();
  cleanups.push(() => chain.stop());
  // The usual test isolation: a fresh prefix and data dir, deleted afterwards (never FLUSHALL).
  const iso = await isolatedConfig(o.redisUrl ? { redisUrl: o.redisUrl } : {});
  cleanups.push(iso.cleanup);
  const { prefix, dataDir } = iso.config;
  const redis = { url: iso.config.redisUrl };
  const port = await freePort();
  const rpcUrl = o.rpcVia ? await o.rpcVia(Number(new URL(chain.anvil.rpcUrl).port)) : chain.anvil.rpcUrl;
  const env = {
    PORT: String(port), REDIS_URL: redis.url, REDIS_PREFIX: prefix, DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN,
    RPC_URL: rpcUrl, PRIVATE_KEY: chain.anvil.privateKeys[0]!, REGISTRY_ADDRESS: chain.d.addresses.registry,
    REGISTRY_FROM_BLOCK: String(chain.d.blockNumber), SCHEDULER_INTERVAL_MS: '50', ...o.env,
  };
  const running = new Set<ServiceProcess>();
  cleanups.push(async () => {
    for (const p of running) await p.kill();
  });
  /** The coordinator, as `npm start` runs it, with `extra` env on top (e.g. FAILPOINTS). */
  const start = async (extra: Record<string, string> = {}): Promise<CoordinatorProcess> => {
    const c = await startCoordinatorProcess({ ...env, ...extra });
    running.add(c);
    return c;
  };
  /** A standalone worker, as `npm run worker` runs it, on the same Redis prefix. */
  const startWorker = async (extra: Record<string, string> = {}): Promise<ServiceProcess> => {
    const w = await startWorkerProcess({ REDIS_URL: redis.url, REDIS_PREFIX: prefix, DATA_DIR: dataDir, ...extra });
    running.add(w);
    return w;
  };
  const producer = queueProducer(redis.url, prefix);
  cleanups.push(() => producer.close());
  return { chain, redis, prefix, start, startWorker, producer, url: `http://127.0.0.1:${port}` };
}

/** A public iris task with `clients` registered wallets and an open round that needs all of them. */
export async function openTaskRound(url: string, clients: number): Promise<{ task: Task; round: Round; updates: BuiltUpdate[] }> {
  const wallets = Array.from({ length: clients }, () => Wallet.createRandom());
  const { task, round, target } = await openRoundFor(url, { name: 'fault', model: 'iris-mlp', seed: 5, rewards: { perRound: '1000', budget: '10000' } }, wallets, {
    durationSeconds: 300,
    minClients: clients,
    maxClients: clients,
  });
  const updates = await Promise.all(wallets.map((w, i) => buildUpdate({ target, wallet: w, delta: randomDelta(IRIS_PARAMS, 40 + i), numSamples: 10 + i })));
  return { task, round, updates };
}

export async function waitCommitted(url: string, task: number, round: number, timeoutMs = 60_000): Promise<Round> {
  return waitFor(`round ${task}/${round} committed`, async () => {
    const x = await getRound(url, task, round);
    return x.state === 'committed' ? x : null;
  }, timeoutMs);
}

/** Uploads each update through the queue, one at a time, and asserts the worker accepts it. */
export async function uploadAccepted(producer: QueueProducer, url: string, task: number, round: number, updates: BuiltUpdate[], timeoutMs?: number) {
  for (const u of updates) {
    const d = await decisionOf(url, task, round, await producer.upload(u), timeoutMs);
    assert.equal(d.status, 'accepted', JSON.stringify(d.status === 'rejected' ? d.rejection : null));
  }
}
