/**
 * One round with many simulated clients uploading at once, half over HTTP and half straight into the
 * queue, against the real coordinator service (`coordinator/main.ts` as a child process, so its
 * memory is its own). Every upload must be accounted for: a 202/queued job whose decision (accepted
 * or rejected with a code) appears on the round, or an HTTP refusal with a JSON error code; never a
 * 5xx. A share of the clients are hostile (their updates are signed by a key that never registered)
 * so the rejection path is under load too.
 *
 * Used by `npm run bench` (1,000 clients) and by test/faults/load.test.ts (fewer).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Wallet } from 'ethers';
import { Redis } from 'ioredis';
import { CoordinatorApi } from '../client/coordinator-api.ts';
import { queueUploader } from '../client/upload/queue-uploader.ts';
import type { SignedUpdate } from '../client/upload/uploader.ts';
import { contentHash, encodeFloat32, Round, signUpdate, Task, type ModelSpec } from '../protocol/index.ts';
import type { Figure } from './common.ts';
import { registerWallet } from './load-registration.ts';
import { startCoordinatorProcess, type CoordinatorProcess } from '../scripts/coordinator-process.ts';

/** inputShape [16] -> dense 8 -> dense 4: 172 parameters. Small on purpose: this measures the service, not bandwidth. */
export const LOAD_MODEL: ModelSpec = {
  inputShape: [16],
  classes: 4,
  layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 4, activation: 'softmax' }],
};

export interface LoadOptions {
  clients: number;
  /** Share of clients uploading over HTTP (the rest use the queue). */
  httpShare: number;
  /** Share of clients whose update is signed by an unregistered key. */
  hostileShare: number;
  redisUrl: string;
  prefix: string;
  dataDir: string;
  /** How long to wait for every decision once all uploads are in. */
  settleTimeoutMs?: number;
}

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  clients: number;
  http: LatencyStats;
  queue: LatencyStats;
  /** Same bytes, same number in flight, raw ioredis SET: the floor any queued upload pays. */
  redisSet: LatencyStats;
  accepted: number;
  /** Decisions recorded on the round, by rejection code. */
  rejectedByCode: Record<string, number>;
  /** HTTP uploads refused before queueing (4xx), by error code. */
  refusedByCode: Record<string, number>;
  /** HTTP statuses seen on upload. */
  statuses: Record<string, number>;
  serverErrors: number;
  /** Uploads with no decision and no refusal: must be empty. */
  unaccounted: string[];
  /** Hostile uploads that were accepted: must be zero. */
  hostileAccepted: number;
  roundState: string;
  coordinatorIdleRssMB: number;
  coordinatorPeakRssMB: number;
  uploadWallSeconds: number;
}

const percentile = (xs: number[], p: number): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const stats = (xs: number[]): LatencyStats => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.length ? Math.max(...xs) : NaN });

/** VmRSS / VmHWM of a live process in MB (Linux /proc). */
function memoryMB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]) / 1024;
}

const ADMIN_TOKEN = `load-${randomBytes(8).toString('hex')}`;

/** The coordinator as `npm start` runs it, without a chain, in its own process (its memory is measured). */
function startCoordinatorForLoad(o: LoadOptions): Promise<CoordinatorProcess> {
  return startCoordinatorProcess({
    PORT: '0',
    REDIS_URL: o.redisUrl,
    REDIS_PREFIX: o.prefix,
    DATA_DIR: o.dataDir,
    ADMIN_TOKEN,
    CHAIN: 'off',
    // One machine plays every client: a per-IP limit would (rightly) throttle it.
    RATE_LIMIT_PER_IP_PER_MIN: '0',
    RATE_LIMIT_PER_CLIENT_PER_MIN: '0',
  });
}

async function adminPost(url: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function getRound(url: string, task: number, round: number): Promise<Round> {
  const res = await fetch(`${url}/v1/tasks/${task}/rounds/${round}`);
  if (!res.ok) throw new Error(`GET round: ${res.status}`);
  return Round.parse(await res.json());
}

interface PreparedClient {
  meta: SignedUpdate;
  bytes: Uint8Array;
  via: 'http' | 'queue';
  hostile: boolean;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const coord = await startCoordinatorForLoad(o);
  const pid = coord.child.pid!;
  const uploader = queueUploader(o.redisUrl, o.prefix);
  const raw = new Redis(o.redisUrl);
  try {
    const api = new CoordinatorApi(coord.url);
    const task = Task.parse(await adminPost(coord.url, '/v1/tasks', {
      // float32: the generator's deltas are raw float32 (the codecs' costs are bench/wire.ts's figures).
      name: 'load', model: LOAD_MODEL, strategy: { name: 'fedavg' }, limits: { maxNorm: 0, minSamples: 1, maxSamples: 1_000_000 }, wire: { codec: 'float32' }, seed: 7,
    }));

    // Client set-up (keys, registration, deltas, signatures) is outside the measured window.
    const nHostile = Math.round(o.clients * o.hostileShare);
    const honest = o.clients - nHostile;
    const wallets = Array.from({ length: o.clients }, () => new Wallet(`0x${randomBytes(32).toString('hex')}`));
    for (const w of wallets.slice(0, honest)) await registerWallet(api, task, w);
    const round = Round.parse(await adminPost(coord.url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 3600, minClients: 1, maxClients: honest }));
    const prepared: PreparedClient[] = [];
    for (let i = 0; i < o.clients; i++) {
      const hostile = i >= honest;
      const delta = new Float32Array(task.params);
      for (let j = 0; j < delta.length; j++) delta[j] = Math.sin(i * 31 + j) * 1e-3;
      const bytes = encodeFloat32(delta);
      const msg = { task: task.id, round: round.round, baseHash: round.baseHash, updateHash: await contentHash(bytes), numSamples: 10 + (i % 50) };
      // A hostile client claims a registered address but signs with its own unregistered key.
      const claimed = hostile ? wallets[i % honest]! : wallets[i]!;
      const signature = await signUpdate(wallets[i]!, task.eip712, msg);
      prepared.push({ meta: { ...msg, client: claimed.address, signature }, bytes, via: i % Math.round(1 / o.httpShare) === 0 ? 'http' : 'queue', hostile });
    }

    // Baseline: the same bytes SET by the same process with the same number in flight.
    const setMs = await Promise.all(prepared.map(async (p, i) => {
      const t = performance.now();
      await raw.set(`${o.prefix}:load-baseline:${i}`, Buffer.from(p.bytes), 'EX', 60);
      return performance.now() - t;
    }));

    const idleRss = memoryMB(pid, 'VmRSS');
    const httpMs: number[] = [];
    const queueMs: number[] = [];
    const statuses: Record<string, number> = {};
    const refusedByCode: Record<string, number> = {};
    const jobs: { jobId: string; hostile: boolean }[] = [];
    let serverErrors = 0;
    const t0 = performance.now();
    await Promise.all(prepared.map(async (p) => {
      const t = performance.now();
      if (p.via === 'queue') {
        const { jobId } = await uploader.upload(p.meta, p.bytes);
        queueMs.push(performance.now() - t);
        jobs.push({ jobId, hostile: p.hostile });
        return;
      }
      const res = await fetch(`${coord.url}/v1/tasks/${task.id}/rounds/${round.round}/updates`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          'x-fl-client': p.meta.client,
          'x-fl-base-hash': p.meta.baseHash,
          'x-fl-update-hash': p.meta.updateHash,
          'x-fl-num-samples': String(p.meta.numSamples),
          'x-fl-signature': p.meta.signature,
        },
        body: Buffer.from(p.bytes),
      });
      httpMs.push(performance.now() - t);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500) serverErrors++;
      const body = (await res.json().catch(() => null)) as { jobId?: string; error?: { code?: string } } | null;
      if (res.status === 202 && body?.jobId) jobs.push({ jobId: body.jobId, hostile: p.hostile });
      else {
        const code = body?.error?.code ?? `HTTP_${res.status}_WITHOUT_CODE`;
        refusedByCode[code] = (refusedByCode[code] ?? 0) + 1;
      }
    }));
    const uploadWallSeconds = (performance.now() - t0) / 1000;

    // Every queued job must come back as a decision on the round.
    const deadline = Date.now() + (o.settleTimeoutMs ?? 120_000);
    let r = await getRound(coord.url, task.id, round.round);
    const decided = (x: Round) => new Set([...x.acceptedUpdates.map((u) => u.jobId), ...x.rejections.map((j) => j.jobId)]);
    // ...and the round must leave collection and aggregation (CHAIN=off: it ends 'aggregated' or 'failed').
    const settled = (x: Round) => x.state !== 'open' && x.state !== 'closing' && jobs.every((j) => decided(x).has(j.jobId));
    while (!settled(r) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      r = await getRound(coord.url, task.id, round.round);
    }
    const seen = decided(r);
    const acceptedIds = new Set(r.acceptedUpdates.map((u) => u.jobId));
    const rejectedByCode: Record<string, number> = {};
    for (const j of r.rejections) rejectedByCode[j.code] = (rejectedByCode[j.code] ?? 0) + 1;
    return {
      clients: o.clients,
      http: stats(httpMs),
      queue: stats(queueMs),
      redisSet: stats(setMs),
      accepted: r.acceptedUpdates.length,
      rejectedByCode,
      refusedByCode,
      statuses,
      serverErrors,
      unaccounted: jobs.filter((j) => !seen.has(j.jobId)).map((j) => j.jobId),
      hostileAccepted: jobs.filter((j) => j.hostile && acceptedIds.has(j.jobId)).length,
      roundState: r.state,
      coordinatorIdleRssMB: idleRss,
      coordinatorPeakRssMB: memoryMB(pid, 'VmHWM'),
      uploadWallSeconds,
    };
  } finally {
    await uploader.close();
    raw.disconnect();
    await coord.stop();
  }
}

/** Every upload accounted for, no 5xx, no hostile update accepted, the round settled. */
export function loadProblems(r: LoadResult): string[] {
  const p: string[] = [];
  if (r.serverErrors) p.push(`${r.serverErrors} upload(s) answered 5xx`);
  if (r.unaccounted.length) p.push(`${r.unaccounted.length} queued upload(s) with no decision on the round`);
  if (r.hostileAccepted) p.push(`${r.hostileAccepted} hostile upload(s) accepted`);
  const noCode = Object.keys(r.refusedByCode).filter((c) => c.startsWith('HTTP_'));
  if (noCode.length) p.push(`HTTP refusals without an error code: ${noCode.join(', ')}`);
  const decided = r.accepted + Object.values(r.rejectedByCode).reduce((a, b) => a + b, 0) + Object.values(r.refusedByCode).reduce((a, b) => a + b, 0);
  if (decided !== r.clients) p.push(`${decided} decisions for ${r.clients} uploads`);
  if (r.roundState !== 'aggregated') p.push(`round ended '${r.roundState}', not 'aggregated'`);
  return p;
}

/** `npm run bench` figures of one load run. */
export async function benchLoad(o: LoadOptions): Promise<{ figures: Figure[]; result: LoadResult; problems: string[] }> {
  const r = await runLoad(o);
  const ms = (name: string, value: number, base: number, baseName: string): Figure =>
    ({ name, value, unit: 'ms', ratio: value / base, baseline: { name: baseName, value: base, unit: 'ms' } });
  const figures: Figure[] = [
    ms(`load_http_p50_${o.clients}`, r.http.p50, r.redisSet.p50, 'redis_set_p50'),
    ms(`load_http_p99_${o.clients}`, r.http.p99, r.redisSet.p99, 'redis_set_p99'),
    ms(`load_queue_p50_${o.clients}`, r.queue.p50, r.redisSet.p50, 'redis_set_p50'),
    ms(`load_queue_p99_${o.clients}`, r.queue.p99, r.redisSet.p99, 'redis_set_p99'),
    {
      name: `load_coordinator_peak_rss_${o.clients}`, value: r.coordinatorPeakRssMB, unit: 'MB', ratio: r.coordinatorPeakRssMB / r.coordinatorIdleRssMB,
      baseline: { name: 'coordinator_idle_rss', value: r.coordinatorIdleRssMB, unit: 'MB' },
    },
  ];
  return { figures, result: r, problems: loadProblems(r) };
}
