/**
 * Child process of figure 3. `idle`: loads the same modules and does nothing else (the baseline).
 * `aggregate`: runs the closeRound use-case on a round whose accepted updates already sit in Redis.
 * Either way it prints one JSON line: the kernel's peak RSS (VmHWM) and the peak of its own RSS samples.
 * Run as: node --import tsx bench/rss-child.ts idle|aggregate   (settings in BENCH_RSS_CHILD as JSON)
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { createContext } from '../coordinator/server.ts';
import { closeRound } from '../coordinator/use-cases/close-round.ts';

interface ChildSettings {
  redisUrl: string;
  prefix: string;
  dataDir: string;
  task: number;
  round: number;
}

const MB = 1e6; // decimal megabytes, as the figure is reported
let sampledPeak = process.memoryUsage.rss();
const sampler = setInterval(() => {
  const r = process.memoryUsage.rss();
  if (r > sampledPeak) sampledPeak = r;
}, 2);

function vmHwmBytes(): number {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const mode = process.argv[2];
const out: Record<string, unknown> = { mode };
if (mode === 'idle') {
  await new Promise((r) => setTimeout(r, 150));
} else if (mode === 'aggregate') {
  const s = JSON.parse(process.env.BENCH_RSS_CHILD ?? '{}') as ChildSettings;
  const ctx = createContext(
    {
      port: 0,
      host: '127.0.0.1',
      redisUrl: s.redisUrl,
      dataDir: s.dataDir,
      adminToken: undefined,
      prefix: s.prefix,
      checkThreads: 0, // aggregation only: no updates to check
      chainId: 31337,
      inProcessWorker: false,
      workerConcurrency: 1,
      schedulerIntervalMs: 1000,
      logLevel: 'silent',
    },
    pino({ level: 'silent' }),
  );
  await ctx.redis.ping();
  out.rssBeforeMB = process.memoryUsage.rss() / MB;
  const t0 = performance.now();
  const r = await closeRound(ctx, s.task, s.round);
  out.ms = performance.now() - t0;
  out.status = r.status;
  if (r.status === 'aggregated') out.accepted = r.accepted;
  await ctx.queue.close();
  ctx.redis.disconnect();
} else {
  throw new Error(`usage: rss-child.ts idle|aggregate (got ${mode})`);
}
clearInterval(sampler);
const now = process.memoryUsage.rss();
if (now > sampledPeak) sampledPeak = now;
out.vmHwmMB = vmHwmBytes() / MB;
out.sampledPeakMB = sampledPeak / MB;
out.rssEndMB = now / MB;
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
