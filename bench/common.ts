/**
 * Shared helpers of the benchmark: figures and their printing, Redis prefix clean-up, the ~1M-parameter
 * model, deterministic delta generation, and the task/round/client set-up done through the use-cases.
 */
import { randomBytes } from 'node:crypto';
import { Wallet, type BaseWallet, type HDNodeWallet } from 'ethers';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { defaultCheckThreads } from '../coordinator/infra/blob-checker.ts';
import type { CoordinatorConfig } from '../coordinator/config.ts';
import type { CoordinatorContext } from '../coordinator/context.ts';
import { createTask } from '../coordinator/use-cases/create-task.ts';
import { openRound } from '../coordinator/use-cases/open-round.ts';
import { registerClient } from '../coordinator/use-cases/register-client.ts';
import { issueRegistrationChallenge } from '../coordinator/use-cases/registration-challenge.ts';
import type { SignedUpdate } from '../client/upload/uploader.ts';
import { contentHash, encodeFloat32, signRegistration, signUpdate, type Eip712Domain, type ModelSpec, type Task } from '../protocol/index.ts';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  ratio: number;
  baseline: { name: string; value: number; unit: string };
  /** Human-readable target, e.g. "ratio>=0.5". */
  target?: string;
  pass?: boolean;
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The contract line: `bench: NAME VALUE UNIT ratio=R vs BASELINE VALUE UNIT`. */
export function figureLine(f: Figure): string {
  return `bench: ${f.name} ${fmt(f.value)} ${f.unit} ratio=${f.ratio.toFixed(2)} vs ${f.baseline.name} ${fmt(f.baseline.value)} ${f.baseline.unit}`;
}

export function targetLine(f: Figure): string | null {
  if (!f.target) return null;
  return `target: ${f.name} ${f.target} ${f.pass ? 'MET' : 'NOT MET'}`;
}

/** Diagnostics go to stderr so stdout carries only the contract lines. */
export const note = (msg: string) => process.stderr.write(`  [bench] ${msg}\n`);

export const silentLog = () => pino({ level: 'silent' });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A unique key prefix for this run (never FLUSHALL: the Redis is shared). */
export const runPrefix = () => `bench-${randomBytes(5).toString('hex')}`;

export function benchConfig(redisUrl: string, prefix: string, dataDir: string, workerConcurrency: number): CoordinatorConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    redisUrl,
    dataDir,
    adminToken: 'bench-admin-token',
    prefix,
    chainId: 31337,
    inProcessWorker: true,
    workerConcurrency,
    checkThreads: process.env.CHECK_THREADS ? Number(process.env.CHECK_THREADS) : defaultCheckThreads(), // as the coordinator: CHECK_THREADS or cores - 1
    schedulerIntervalMs: 250, // the production default (SCHEDULER_INTERVAL_MS)
    logLevel: 'silent',
  };
}

/** Deletes every key under `${prefix}:` with SCAN + DEL, leaving everyone else's keys alone. */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const r = new Redis(url);
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}

/** inputShape [1000] -> dense 1000 -> dense 10: 1000*1000 + 1000 + 1000*10 + 10 = 1,011,010 parameters (4.04 MB). */
export const MODEL_1M: ModelSpec = {
  inputShape: [1000],
  classes: 10,
  layers: [
    { type: 'dense', units: 1000, activation: 'relu' },
    { type: 'dense', units: 10, activation: 'softmax' },
  ],
};

/** xorshift32: fast deterministic noise, so the run is reproducible and generation stays cheap. */
export function randomVector(n: number, seed: number, scale = 0.01): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

/** Client k's delta: a shared random base, scaled and shifted per client so every blob (and hash) differs. */
export function clientDelta(base: Float32Array, k: number): Float32Array {
  const out = new Float32Array(base.length);
  const a = 1 + (k + 1) * 1e-3;
  const b = (k + 1) * 1e-6;
  for (let i = 0; i < base.length; i++) out[i] = base[i]! * a + b;
  return out;
}

export async function runPool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
}

export async function createBenchTask(ctx: CoordinatorContext, name: string): Promise<Task> {
  return createTask(ctx, {
    name,
    model: MODEL_1M,
    strategy: { name: 'fedavg' },
    // maxSamples is far above what the bench claims; maxNorm 0 = no limit (the norm is still computed).
    limits: { maxNorm: 0, minSamples: 1, maxSamples: 1_000_000_000 },
    // The ingest figures are for 4 MB float32 blobs (the floor is measured on the same bytes); the
    // int8 codec's cost is bench/wire.ts's figure.
    wire: { codec: 'float32' },
    seed: 1,
  });
}

/** Creates n wallets and registers each with the task through the registration use-case (EIP-712 proof). */
export async function registerWallets(ctx: CoordinatorContext, task: number, n: number): Promise<HDNodeWallet[]> {
  const wallets = Array.from({ length: n }, () => Wallet.createRandom());
  for (const w of wallets) {
    const challenge = await issueRegistrationChallenge(ctx, task, { address: w.address });
    await registerClient(ctx, task, { address: challenge.address, nonce: challenge.nonce, expiresAt: challenge.expiresAt, signature: await signRegistration(w, ctx.domain, challenge) });
  }
  return wallets;
}

export async function openBenchRound(ctx: CoordinatorContext, task: number, maxClients: number) {
  return openRound(ctx, task, { durationSeconds: 3600, minClients: 1, maxClients });
}

export interface PreparedUpdate {
  meta: SignedUpdate;
  bytes: Uint8Array;
}

/** Hashes and signs one client's delta for a round (the client-side work, kept out of timed regions). */
export async function prepareUpdate(
  domain: Eip712Domain,
  wallet: BaseWallet,
  task: number,
  round: number,
  baseHash: string,
  delta: Float32Array,
  numSamples: number,
): Promise<PreparedUpdate> {
  const bytes = encodeFloat32(delta);
  const updateHash = await contentHash(bytes);
  const msg = { task, round, baseHash, updateHash, numSamples };
  const signature = await signUpdate(wallet, domain, msg);
  return { meta: { ...msg, client: wallet.address, signature }, bytes };
}
