/**
 * Figure 1: update ingestion, from upload start to "accepted in the round", through the queue path and
 * the HTTP path, against raw ioredis SET of the same bytes at the same concurrency.
 *
 * This process runs one coordinator as `npm start` does (HTTP API + scheduler + in-process BullMQ
 * worker, WORKER_CONCURRENCY 4). The clients run in a child process (bench/upload-child.ts), which
 * pre-computes every delta, hash and signature before the clock starts. The clock starts when the
 * parent tells the child to upload and stops when the round's accepted count, polled here every 2 ms
 * on a dedicated connection, reaches N. The baseline SETs the same N buffers from the same child,
 * same concurrency, over one ioredis connection (like the queue uploader's single connection).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startCoordinator, type RunningCoordinator } from '../coordinator/server.ts';
import { benchConfig, createBenchTask, note, openBenchRound, registerWallets, silentLog, sleep, type Figure } from './common.ts';
import type { FromChild, ToChild } from './upload-child.ts';

export interface IngestOptions {
  redisUrl: string;
  prefix: string;
  dataDir: string;
  /** Updates in the timed round (= wallets = maxClients). */
  n: number;
  /** Uploads in flight at once (the SET baseline uses the same number). */
  concurrency: number;
  workerConcurrency: number;
  /** Updates in the untimed warm-up round of each path. */
  warmup: number;
  baselineReps: number;
  /** SET runs measured elsewhere in the same phase (the floor's): the baseline is the best of all. */
  extraBaselineMBps?: number[];
  /** Run just before each timed round's clock starts (untimed): the phase interleaves its floor runs
   * with the product's rounds, so both see the same state of a noisy machine. */
  beforeTimedRound?: (kind: 'queue' | 'http', rep: number) => Promise<void>;
}

export interface IngestDiagnostics {
  kind: 'queue' | 'http';
  updates: number;
  megabytes: number;
  uploadsReturnedMs: number;
  /** The best of the timed rounds (the figure); every round's time is in runsMs. */
  allAcceptedMs: number;
  runsMs: number[];
  aggregateMs: number;
  baselineRunsMBps: number[];
}

const MB = 1e6;
const CHILD = fileURLToPath(new URL('./upload-child.ts', import.meta.url));

/** A request/response wrapper around the uploading child's IPC channel. */
class UploadChild {
  private readonly proc: ChildProcess;
  private waiting: { type: FromChild['type']; resolve: (m: FromChild) => void; reject: (e: Error) => void } | null = null;
  private exited: Error | null = null;

  constructor() {
    this.proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: FromChild) => {
      const w = this.waiting;
      if (!w) return;
      this.waiting = null;
      if (m.type === 'error') w.reject(new Error(`upload child: ${m.message}`));
      else if (m.type !== w.type) w.reject(new Error(`upload child answered ${m.type}, expected ${w.type}`));
      else w.resolve(m);
    });
    this.proc.once('exit', (code) => {
      this.exited = new Error(`upload child exited with code ${code}`);
      this.waiting?.reject(this.exited);
      this.waiting = null;
    });
  }

  request<T extends FromChild['type']>(msg: ToChild, expect: T): Promise<Extract<FromChild, { type: T }>> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiting = { type: expect, resolve: resolve as (m: FromChild) => void, reject };
      this.proc.send(msg);
    });
  }

  async close(): Promise<void> {
    if (this.exited || this.proc.exitCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.send({ type: 'exit' } satisfies ToChild);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

export async function benchIngest(o: IngestOptions): Promise<{ figures: Figure[]; diagnostics: IngestDiagnostics[]; baseline: Figure['baseline'] }> {
  const config = benchConfig(o.redisUrl, o.prefix, o.dataDir, o.workerConcurrency);
  const c: RunningCoordinator = await startCoordinator(config, { log: silentLog() });
  const poller = new Redis(o.redisUrl);
  const diagnostics: IngestDiagnostics[] = [];
  try {
    for (const [ki, kind] of (['queue', 'http'] as const).entries()) {
      const child = new UploadChild();
      try {
        await child.request({ type: 'init', kind, redisUrl: o.redisUrl, prefix: o.prefix, coordinatorUrl: c.url, concurrency: o.concurrency }, 'ready');
        const task = await createBenchTask(c.ctx, `bench-ingest-${kind}`);
        const wallets = await registerWallets(c.ctx, task.id, o.n);
        const keys = wallets.map((w) => w.privateKey);
        const seed = 11 + ki;

        // Untimed warm-up round through the same path: JIT on both sides, the keccak WASM instance,
        // Lua script loading, HTTP keep-alive.
        const w = await openBenchRound(c.ctx, task.id, o.warmup);
        await child.request({ type: 'prepare', domain: c.ctx.domain, task: task.id, round: w.round, baseHash: w.baseHash, privateKeys: keys.slice(0, o.warmup), params: task.params, seed, firstClient: 1000 }, 'prepared');
        await child.request({ type: 'upload' }, 'uploaded');
        await waitAccepted(poller, c, task.id, w.round, o.warmup);
        await waitAggregated(c, task.id, w.round);

        // The timed rounds: as many as the floor's and the baseline's runs, and the best of them is the
        // figure, so the product and the floor it is compared with are measured alike. Deltas, hashes
        // and signatures are made before each clock starts.
        const baselineRunsMBps: number[] = [];
        const runsMs: number[] = [];
        let best: { up: { ms: number }; allAcceptedMs: number; aggregateMs: number; count: number; bytes: number } | null = null;
        for (let rep = 0; rep < o.baselineReps; rep++) {
          const r = await openBenchRound(c.ctx, task.id, o.n);
          const prep = await child.request({ type: 'prepare', domain: c.ctx.domain, task: task.id, round: r.round, baseHash: r.baseHash, privateKeys: keys, params: task.params, seed: seed + 100 * rep, firstClient: 0 }, 'prepared');
          const b = await child.request({ type: 'set', keyBase: `${o.prefix}:baseline:${kind}:${rep}` }, 'set-done');
          baselineRunsMBps.push(prep.bytes / MB / (b.ms / 1000));
          await o.beforeTimedRound?.(kind, rep);

          const t0 = performance.now();
          const uploaded = child.request({ type: 'upload' }, 'uploaded');
          uploaded.catch(() => {});
          await waitAccepted(poller, c, task.id, r.round, o.n);
          const allAcceptedMs = performance.now() - t0;
          const up = await uploaded;
          const a0 = performance.now();
          await waitAggregated(c, task.id, r.round);
          runsMs.push(allAcceptedMs);
          if (!best || allAcceptedMs < best.allAcceptedMs) best = { up, allAcceptedMs, aggregateMs: performance.now() - a0, count: prep.count, bytes: prep.bytes };
        }
        if (!best) throw new Error('bench ingest: no timed round (baselineReps is 0)');
        const d: IngestDiagnostics = {
          kind,
          updates: best.count,
          megabytes: best.bytes / MB,
          uploadsReturnedMs: best.up.ms,
          allAcceptedMs: best.allAcceptedMs,
          runsMs,
          aggregateMs: best.aggregateMs,
          baselineRunsMBps,
        };
        diagnostics.push(d);
        note(
          `ingest_${kind}: ${d.updates} x ${(d.megabytes / d.updates).toFixed(2)} MB, ${o.concurrency} in flight; uploads returned after ${d.uploadsReturnedMs.toFixed(0)} ms, ` +
            `all accepted after ${d.allAcceptedMs.toFixed(0)} ms (best of ${d.runsMs.map((v) => v.toFixed(0)).join(', ')}) = ${(d.megabytes / (d.allAcceptedMs / 1000)).toFixed(1)} MB/s ` +
            `(then aggregated + archived in ${d.aggregateMs.toFixed(0)} ms, untimed); redis_set runs: ${baselineRunsMBps.map((v) => v.toFixed(0)).join(', ')} MB/s`,
        );
      } finally {
        await child.close();
      }
    }
  } finally {
    poller.disconnect();
    await c.stop();
  }

  // The baseline is the best SET run of the whole phase: the hardest fair reference on a noisy machine.
  const best = Math.max(...diagnostics.flatMap((d) => d.baselineRunsMBps), ...(o.extraBaselineMBps ?? []));
  const baseline = { name: 'redis_set', value: best, unit: 'MB/s' };
  const figures = diagnostics.map((d): Figure => {
    const value = d.megabytes / (d.allAcceptedMs / 1000);
    const ratio = value / best;
    return { name: `ingest_${d.kind}`, value, unit: 'MB/s', ratio, baseline, target: 'ratio>=0.5', pass: ratio >= 0.5 };
  });
  return { figures, diagnostics, baseline };
}

/** Polls the round hash on its own connection (so polling never queues behind the worker's 4 MB GETs). */
async function waitAccepted(poller: Redis, c: RunningCoordinator, task: number, round: number, n: number, timeoutMs = 120_000): Promise<void> {
  const key = c.ctx.keys.round(task, round);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const [acc, rej] = await poller.hmget(key, 'accepted', 'rejected');
    if (Number(rej ?? 0) > 0) {
      const rs = await c.ctx.rounds.get(task, round);
      throw new Error(`round ${task}/${round} rejected updates: ${JSON.stringify(rs?.rejections.slice(0, 3))}`);
    }
    if (Number(acc ?? 0) >= n) return;
    if (Date.now() > end) throw new Error(`timed out: round ${task}/${round} has ${acc}/${n} accepted`);
    await sleep(2);
  }
}

async function waitAggregated(c: RunningCoordinator, task: number, round: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const h = await c.ctx.rounds.head(task, round);
    if (h?.state === 'aggregated') return;
    if (h?.state === 'failed') throw new Error(`round ${task}/${round} failed to aggregate`);
    if (Date.now() > end) throw new Error(`timed out waiting for round ${task}/${round} to aggregate (state ${h?.state})`);
    await sleep(10);
  }
}
