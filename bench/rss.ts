/**
 * Figure 3: peak RSS of a process aggregating a round of 100 accepted 1M-parameter updates.
 *
 * The round is populated the real way: 100 registered wallets upload signed deltas through the queue
 * path and a real update worker validates and accepts them (no scheduler runs, so the full round stays
 * 'open'). Then a child process runs the closeRound use-case on it (aggregate + archive + finish) and
 * reports its kernel peak RSS (VmHWM); the baseline is the same child only loading the modules.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { queueUploader } from '../client/upload/queue-uploader.ts';
import { startUpdateWorker } from '../coordinator/queue/update-worker.ts';
import { createContext } from '../coordinator/server.ts';
import {
  benchConfig,
  clientDelta,
  createBenchTask,
  note,
  openBenchRound,
  prepareUpdate,
  randomVector,
  registerWallets,
  runPool,
  silentLog,
  sleep,
  type Figure,
} from './common.ts';

export interface RssOptions {
  redisUrl: string;
  prefix: string;
  dataDir: string;
  updates: number;
  concurrency: number;
  workerConcurrency: number;
  limitMB: number;
}

interface ChildReport {
  mode: string;
  vmHwmMB: number;
  sampledPeakMB: number;
  rssEndMB: number;
  rssBeforeMB?: number;
  ms?: number;
  status?: string;
  accepted?: number;
}

const CHILD = fileURLToPath(new URL('./rss-child.ts', import.meta.url));

function runChild(mode: 'idle' | 'aggregate', settings: object): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, BENCH_RSS_CHILD: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`rss child (${mode}) exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(line) as ChildReport);
    });
  });
}

export async function benchRss(o: RssOptions): Promise<Figure> {
  const config = benchConfig(o.redisUrl, o.prefix, o.dataDir, o.workerConcurrency);
  const ctx = createContext(config, silentLog());
  await ctx.redis.ping();
  const worker = startUpdateWorker(ctx, o.workerConcurrency);
  await worker.ready();
  const uploader = queueUploader(o.redisUrl, o.prefix);
  const poller = new Redis(o.redisUrl);
  let task: number;
  let round: number;
  try {
    const t = await createBenchTask(ctx, 'bench-rss');
    task = t.id;
    const wallets = await registerWallets(ctx, task, o.updates);
    const r = await openBenchRound(ctx, task, o.updates);
    round = r.round;
    const base = randomVector(t.params, 33);
    const t0 = performance.now();
    // Deltas are made, signed and uploaded one lane at a time, so this process never holds all 100.
    await runPool(wallets, o.concurrency, async (w, k) => {
      const p = await prepareUpdate(ctx.domain, w, task, round, r.baseHash, clientDelta(base, k), 50 + k);
      await uploader.upload(p.meta, p.bytes);
    });
    const key = ctx.keys.round(task, round);
    for (;;) {
      const [acc, rej] = await poller.hmget(key, 'accepted', 'rejected');
      if (Number(rej ?? 0) > 0) throw new Error(`rss round: ${rej} updates rejected`);
      if (Number(acc ?? 0) >= o.updates) break;
      if (performance.now() - t0 > 150_000) throw new Error(`rss round: only ${acc}/${o.updates} accepted`);
      await sleep(5);
    }
    note(`worker_peak_rss: populated ${o.updates} accepted updates via queue path + worker in ${(performance.now() - t0).toFixed(0)} ms (untimed)`);
  } finally {
    poller.disconnect();
    await uploader.close();
    await worker.close();
  }

  try {
    const idle = await runChild('idle', {});
    const agg = await runChild('aggregate', { redisUrl: o.redisUrl, prefix: o.prefix, dataDir: o.dataDir, task, round });
    if (agg.status !== 'aggregated' || agg.accepted !== o.updates) throw new Error(`closeRound in the child returned ${agg.status} (${agg.accepted} accepted)`);
    const head = await ctx.rounds.head(task, round);
    if (head?.state !== 'aggregated') throw new Error(`round ${task}/${round} is ${head?.state} after the child's closeRound`);
    note(
      `worker_peak_rss: idle child VmHWM ${idle.vmHwmMB.toFixed(1)} MB (sampled ${idle.sampledPeakMB.toFixed(1)}); ` +
        `aggregating child VmHWM ${agg.vmHwmMB.toFixed(1)} MB (sampled ${agg.sampledPeakMB.toFixed(1)}, before closeRound ${agg.rssBeforeMB?.toFixed(1)}, ` +
        `at exit ${agg.rssEndMB.toFixed(1)}); closeRound of ${o.updates} updates took ${agg.ms?.toFixed(0)} ms`,
    );
    const value = Math.max(agg.vmHwmMB, agg.sampledPeakMB);
    const baselineValue = Math.max(idle.vmHwmMB, idle.sampledPeakMB);
    return {
      name: 'worker_peak_rss',
      value,
      unit: 'MB',
      ratio: value / baselineValue,
      baseline: { name: 'idle_child_rss', value: baselineValue, unit: 'MB' },
      target: `value<=${o.limitMB}MB`,
      pass: value <= o.limitMB,
    };
  } finally {
    await ctx.queue.close();
    ctx.redis.disconnect();
  }
}
