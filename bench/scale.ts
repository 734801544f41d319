/**
 * `bench: scale replicas=R workers=W uploads_per_s=U`: how upload throughput grows with processes.
 * Each topology is real processes (`coordinator/main.ts` replicas with IN_PROCESS_WORKER=0 and
 * `coordinator/worker-main.ts` workers), each with its own DATA_DIR, on one fresh Redis prefix and one
 * bucket (STORE=s3, an s3rver in this process), no chain. The bench process registers N clients,
 * signs N 1M-parameter float32 updates before the clock, then PUTs them over HTTP, round-robin over
 * the replicas, 8 in flight, and stops the clock when the round has accepted all N.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorApi } from '../client/coordinator-api.ts';
import { httpUploader } from '../client/upload/http-uploader.ts';
import { freePort } from '../coordinator/infra/redis-server.ts';
import { createContext } from '../coordinator/server.ts';
import { startCoordinatorProcess, startWorkerProcess, type ServiceProcess } from '../scripts/coordinator-process.ts';
import { startDemoBucket } from '../scripts/demo-topology.ts';
import { benchConfig, clientDelta, createBenchTask, deletePrefix, openBenchRound, prepareUpdate, randomVector, registerWallets, runPool, silentLog, sleep } from './common.ts';

export interface ScaleResult {
  replicas: number;
  workers: number;
  uploads: number;
  seconds: number;
  uploadsPerSecond: number;
}

export async function benchScale(o: { redisUrl: string; prefix: string; uploads: number; topologies: readonly (readonly [number, number])[] }): Promise<ScaleResult[]> {
  const bucket = await startDemoBucket();
  const out: ScaleResult[] = [];
  try {
    for (const [replicas, workers] of o.topologies) {
      const prefix = `${o.prefix}-r${replicas}w${workers}`;
      const dirs: string[] = [];
      const dir = () => {
        const d = mkdtempSync(join(tmpdir(), 'fl-bench-scale-'));
        dirs.push(d);
        return d;
      };
      const procs: ServiceProcess[] = [];
      const config = { ...benchConfig(o.redisUrl, prefix, dir(), 1), store: bucket.config, inProcessWorker: false };
      const ctx = createContext(config, silentLog());
      try {
        const env = {
          REDIS_URL: o.redisUrl, REDIS_PREFIX: prefix, CHAIN: 'off', IN_PROCESS_WORKER: '0', ADMIN_TOKEN: 'bench-admin-token',
          RATE_LIMIT_PER_IP_PER_MIN: '0', RATE_LIMIT_PER_CLIENT_PER_MIN: '0', WORKER_CONCURRENCY: '4', ...bucket.env,
        };
        for (let i = 0; i < workers; i++) procs.push(await startWorkerProcess({ ...env, DATA_DIR: dir() }));
        const urls: string[] = [];
        for (let i = 0; i < replicas; i++) {
          const c = await startCoordinatorProcess({ ...env, PORT: String(await freePort()), DATA_DIR: dir() });
          procs.push(c);
          urls.push(c.url);
        }
        const task = await createBenchTask(ctx, `scale-${replicas}-${workers}`);
        const wallets = await registerWallets(ctx, task.id, o.uploads);
        const round = await openBenchRound(ctx, task.id, o.uploads);
        const base = randomVector(task.params, 7);
        const updates = await Promise.all(wallets.map((w, k) => prepareUpdate(ctx.domain, w, task.id, round.round, round.baseHash, clientDelta(base, k), 10)));
        const t0 = performance.now();
        const uploaders = urls.map((u) => httpUploader(new CoordinatorApi(u)));
        await runPool(updates, 8, async (u, i) => {
          await uploaders[i % uploaders.length]!.upload(u.meta, u.bytes);
        });
        for (;;) {
          const r = await ctx.rounds.get(task.id, round.round);
          if (r && r.accepted + r.rejected >= o.uploads) {
            if (r.rejected) throw new Error(`${r.rejected} uploads rejected: ${JSON.stringify(r.rejections[0])}`);
            break;
          }
          await sleep(5);
        }
        const seconds = (performance.now() - t0) / 1000;
        out.push({ replicas, workers, uploads: o.uploads, seconds, uploadsPerSecond: o.uploads / seconds });
      } finally {
        for (const p of procs.reverse()) await p.stop().catch(() => p.kill());
        await ctx.queue.close();
        await ctx.checker.close();
        ctx.redis.disconnect();
        await deletePrefix(o.redisUrl, prefix);
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      }
    }
  } finally {
    await bucket.stop();
  }
  return out;
}
