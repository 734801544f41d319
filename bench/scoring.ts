/**
 * What validation-gain scoring costs (issue 15, docs/contribution-scores.md): one round of `clients`
 * updates of the demo's mnist-cnn, scored on `validation` MNIST digits by scoreContributions (what
 * close-round runs), against the FedAvg fold of the same updates.
 *   time_ratio = scoring time / fold time. Scoring runs one forward pass of the model over the
 *   validation set per update (plus one), so it grows with validation size x model FLOPs, while the
 *   fold is one pass over the weights: the ratio is large by nature; the absolute time is the figure
 *   to compare with the round's training time. The passes run on the evaluation threads close-round
 *   uses (one a core); SCORE_THREADS=N sets their number for this bench (1: inline).
 */
import { subset } from '../client/data/dataset.ts';
import { loadMnist } from '../client/data/mnist.ts';
import { createStrategy, type ClientDelta } from '../coordinator/strategies/index.ts';
import { emptyServerState, initialWeights, PRESET_MODELS, type ModelSpec } from '../protocol/index.ts';
import { threadedEvaluator } from '../protocol/scoring/eval-threads.ts';
import { scoreContributions } from '../protocol/scoring/index.ts';
import { note, randomVector } from './common.ts';

export interface ScoringResult {
  clients: number;
  validation: number;
  params: number;
  scoringMs: number;
  foldMs: number;
  timeRatio: number;
  threads: number;
}

export async function benchScoring(o: { clients: number; validation: number }): Promise<ScoringResult> {
  const spec = PRESET_MODELS['mnist-cnn'] as unknown as ModelSpec;
  const base = initialWeights(spec, 1);
  const mnist = loadMnist();
  const val = subset(mnist, Array.from({ length: o.validation }, (_, i) => (i * 97) % mnist.n));
  const validation = { ...val, features: 784, classes: 10 };
  const hex = (i: number) => `0x${i.toString(16).padStart(64, '0')}`;
  const deltas: ClientDelta[] = Array.from({ length: o.clients }, (_, k) => ({ id: hex(k + 1), delta: randomVector(base.length, 100 + k, 0.01), numSamples: 100 + k }));
  const fedavg = createStrategy({ name: 'fedavg' });
  const fold = async () => {
    const t = performance.now();
    await fedavg.aggregate({ base, serverState: emptyServerState(), count: deltas.length, async *deltas() { yield* deltas; } });
    return performance.now() - t;
  };
  await fold();
  const foldMs = Math.min(await fold(), await fold(), await fold());
  const byId = new Map(deltas.map((d) => [d.id, d.delta]));
  // As close-round scores: on the process's evaluation threads (started here, untimed, by a first
  // evaluation, as a running coordinator keeps them from its first scored round).
  const evaluator = threadedEvaluator(spec, validation, process.env.SCORE_THREADS ? Number(process.env.SCORE_THREADS) : undefined);
  for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: evaluator.parallelism }, () => evaluator.evaluate(Float32Array.from(base))));
  const t = performance.now();
  await scoreContributions({
    evaluator,
    spec, base, baseHash: hex(0), validation, validationHash: hex(0),
    updates: deltas.map((d) => ({ client: `0x${d.id.slice(-40)}`, updateHash: d.id, numSamples: d.numSamples })),
    arrival: deltas.map((d) => `0x${d.id.slice(-40)}`), earlier: [],
    loadUpdate: async (h) => byId.get(h)!,
    loadEarlier: async () => new Float32Array(0),
  });
  const scoringMs = performance.now() - t;
  evaluator.close();
  note(`scoring: ${o.clients} updates of mnist-cnn (${base.length} parameters) on ${o.validation} validation digits: ${(scoringMs / 1000).toFixed(1)} s (${(scoringMs / (o.clients + 1)).toFixed(0)} ms of wall time a forward pass over the set, on ${evaluator.parallelism} threads); FedAvg fold ${foldMs.toFixed(2)} ms`);
  return { clients: o.clients, validation: o.validation, params: base.length, scoringMs, foldMs, timeRatio: scoringMs / foldMs, threads: evaluator.parallelism };
}
