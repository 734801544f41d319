/**
 * Figure 2: FedAvg fold throughput. The real strategy (createStrategy({ name: 'fedavg' })) aggregates
 * deltas held in memory; the baseline is a bare multiply-add loop over the very same arrays. Both
 * allocate their accumulator per run; both are warmed up; runs alternate and the best of each counts.
 * The FedAvg figure covers its whole aggregate() call: the folds plus its final divide and add-base passes.
 */
import { createStrategy, type ClientDelta } from '../coordinator/strategies/index.ts';
import { emptyServerState } from '../protocol/index.ts';
import { clientDelta, note, randomVector, type Figure } from './common.ts';

export interface FoldOptions {
  deltas: number;
  params: number;
  runs: number;
  warmup: number;
}

/** The reference: acc[i] += w * d[i] over every delta, nothing else. */
function plainFold(deltas: readonly Float32Array[], weights: readonly number[], n: number): Float32Array {
  const acc = new Float32Array(n);
  for (let j = 0; j < deltas.length; j++) {
    const d = deltas[j]!;
    const w = weights[j]!;
    for (let i = 0; i < n; i++) acc[i]! += w * d[i]!;
  }
  return acc;
}

export async function benchFold(o: FoldOptions): Promise<Figure> {
  const base = randomVector(o.params, 7, 0.05);
  const noise = randomVector(o.params, 99);
  const deltas = Array.from({ length: o.deltas }, (_, k) => clientDelta(noise, k));
  const weights = deltas.map((_, k) => 100 + k);
  const input: ClientDelta[] = deltas.map((delta, k) => ({ id: `0x${k.toString(16).padStart(64, '0')}`, delta, numSamples: weights[k]! }));
  const strategy = createStrategy({ name: 'fedavg' });
  const aggregate = () =>
    strategy.aggregate({
      base,
      serverState: emptyServerState(),
      count: input.length,
      async *deltas() {
        yield* input;
      },
    });

  let sink = 0;
  for (let w = 0; w < o.warmup; w++) {
    sink += plainFold(deltas, weights, o.params)[1]!;
    sink += (await aggregate()).weights[1]!;
  }
  let bestPlain = Infinity;
  let bestFedAvg = Infinity;
  for (let r = 0; r < o.runs; r++) {
    let t = performance.now();
    sink += plainFold(deltas, weights, o.params)[1]!;
    bestPlain = Math.min(bestPlain, performance.now() - t);
    t = performance.now();
    sink += (await aggregate()).weights[1]!;
    bestFedAvg = Math.min(bestFedAvg, performance.now() - t);
  }
  if (!Number.isFinite(sink)) throw new Error('fold produced a non-finite value');

  const bytes = o.deltas * o.params * 4;
  const gbps = (ms: number) => bytes / 1e9 / (ms / 1000);
  note(`fedavg_fold: ${o.deltas} deltas x ${o.params} params (${(bytes / 1e6).toFixed(0)} MB); best of ${o.runs}: FedAvg.aggregate ${bestFedAvg.toFixed(1)} ms, plain loop ${bestPlain.toFixed(1)} ms`);
  const value = gbps(bestFedAvg);
  const baselineValue = gbps(bestPlain);
  const ratio = value / baselineValue;
  return {
    name: 'fedavg_fold',
    value,
    unit: 'GB/s',
    ratio,
    baseline: { name: 'plain_fma_loop', value: baselineValue, unit: 'GB/s' },
    target: 'ratio>=0.8',
    pass: ratio >= 0.8,
  };
}
