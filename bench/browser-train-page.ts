/**
 * The browser half of `bench: browser-train` (bench/browser-train.ts), bundled with the join page's
 * swaps: the page's own backend start-up (client/web/browser-backend.ts) and the shared training
 * loop the page trains with (client/tf/train-loop.ts). The Node process serves the job and its data;
 * this page trains once to warm up, then times `runs` trainings and reports the best.
 */
import type { ModelSpec } from '../protocol/index.ts';
import { trainOnActiveBackend, type TrainingConfig } from '../client/tf/train-loop.ts';
import { initPageBackend } from '../client/web/browser-backend.ts';

interface Job {
  spec: ModelSpec;
  training: TrainingConfig;
  n: number;
  warmupN: number;
  runs: number;
  features: number;
}

async function bytes(path: string): Promise<ArrayBuffer> {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

async function run(backend: string | null) {
  const job = (await (await fetch('job.json')).json()) as Job;
  const x = new Float32Array(await bytes('x.bin'));
  const y = new Uint8Array(await bytes('y.bin'));
  const base = new Float32Array(await bytes('weights.bin'));
  const started = await initPageBackend(backend);
  const warm = { x: x.subarray(0, job.warmupN * job.features), y: y.subarray(0, job.warmupN), n: job.warmupN };
  await trainOnActiveBackend({ spec: job.spec, baseWeights: base, data: warm, training: job.training, seed: 1 });
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < job.runs; i++) {
    const t = performance.now();
    const r = await trainOnActiveBackend({ spec: job.spec, baseWeights: base, data: { x, y, n: job.n }, training: job.training, seed: 1 });
    times.push(performance.now() - t);
    loss = r.loss;
  }
  return { backend: started.name, skipped: started.skipped, ms: Math.min(...times), times, loss };
}

(globalThis as { benchTrain?: typeof run }).benchTrain = run;
