/**
 * `npm run attacks -- --freeloaders`: what freeloaders earn under the validation-gain rule
 * (docs/contribution-scores.md), in the MNIST non-IID demo setting (mnist-cnn, 5 honest owners,
 * Dirichlet alpha 0.5, 2 local epochs, lr 0.05, 300 held-out digits as the validation set).
 *
 * Every round the honest owners train with TensorFlow.js and upload first; then one freeloader of
 * each kind uploads, each declaring the most samples of anyone:
 *   zero    an all-zero delta;
 *   noise   Gaussian noise scaled to an honest delta's norm (inside any norm bound the honest pass);
 *   copy    another owner's delta of this round with 1 % noise on every weight;
 *   stale   an honest owner's delta of the previous round (round 1: nothing yet, so it uploads zeros);
 *   scaled  0.3 times another owner's delta of this round.
 * Each round is scored by the protocol's own scoreContributions and paid by splitProRata, exactly
 * what close-round runs (in one process here, without Redis or a chain: the rule is a pure function
 * of the bytes, and the integration test runs it through the coordinator and the auditor). The next
 * base is the FedAvg step of every accepted update, freeloaders included, as a coordinator applies it.
 *
 * Prints one line: freeloaders: honest_median=H zero=Z noise=N copy=C stale=S scaled=K, the share
 * of the total reward over all rounds each earned; the target is every freeloader <= 0.05 * H.
 */
import { Command } from 'commander';
import { subset } from '../client/data/dataset.ts';
import { loadMnist, splitTrainTest } from '../client/data/mnist.ts';
import { dirichletPartition } from '../client/data/partition.ts';
import { trainLocal } from '../client/tf/trainer.ts';
import { initialWeights, PRESET_MODELS, Prng, splitProRata, type ModelSpec } from '../protocol/index.ts';
import { aggregateStep, gainScore, scoreContributions, type EarlierItem } from '../protocol/scoring/index.ts';

const opts = new Command('attacks --freeloaders')
  .option('--rounds <n>', 'rounds', (v) => Number(v), 4)
  .option('--clients <n>', 'honest owners', (v) => Number(v), 5)
  .option('--seed <s>', 'seed of split, partition, weights and noise', (v) => Number(v), 1)
  .option('--validation <n>', 'validation samples', (v) => Number(v), 300)
  .allowUnknownOption(true)
  .parse(process.argv.filter((a) => a !== '--freeloaders'))
  .opts<{ rounds: number; clients: number; seed: number; validation: number }>();

const KINDS = ['zero', 'noise', 'copy', 'stale', 'scaled'] as const;
const spec = PRESET_MODELS['mnist-cnn'] as unknown as ModelSpec;
const { train, test } = splitTrainTest(loadMnist(), 8000, opts.seed);
const validation = { ...subset(test, Array.from({ length: opts.validation }, (_, i) => i)), features: 784, classes: 10 };
const parts = dirichletPartition(train.y, opts.clients, 0.5, opts.seed);
const rng = new Prng(opts.seed + 99);
const hex = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const earned = new Map<string, bigint>();
let total = 0n;
let base = initialWeights(spec, opts.seed);
let prevBase: Float32Array | null = null;
let previous: { hash: string; delta: Float32Array }[] = [];
const PER_ROUND = 10n ** 20n;

for (let r = 1; r <= opts.rounds; r++) {
  const deltas = new Map<string, { who: string; delta: Float32Array; numSamples: number }>();
  for (let i = 0; i < opts.clients; i++) {
    const res = await trainLocal({ spec, baseWeights: base, data: subset(train, parts[i]!), training: { localEpochs: 2, batchSize: 32, learningRate: 0.05, optimizer: 'sgd' }, seed: r * 100 + i });
    deltas.set(hex(r * 1000 + i), { who: `honest${i}`, delta: res.delta, numSamples: parts[i]!.length });
  }
  const honest = [...deltas.values()].map((d) => d.delta);
  const maxSamples = Math.max(...parts.map((p) => p.length));
  const norm = Math.hypot(...honest[0]!);
  const noise = Float32Array.from(honest[0]!, () => rng.normal());
  const noiseNorm = Math.hypot(...noise);
  const made: Record<(typeof KINDS)[number], Float32Array> = {
    zero: new Float32Array(base.length),
    noise: noise.map((v) => (v / noiseNorm) * norm),
    copy: honest[1]!.map((v) => v * (1 + 0.01 * rng.normal())),
    stale: previous.length ? previous[0]!.delta : new Float32Array(base.length),
    scaled: honest[2]!.map((v) => v * 0.3),
  };
  KINDS.forEach((k, j) => deltas.set(hex(r * 1000 + 500 + j), { who: k, delta: made[k], numSamples: maxSamples }));
  const earlier: EarlierItem[] = previous.map((p) => ({ round: r - 1, kind: 'update', hash: p.hash }));
  if (prevBase) earlier.push({ round: r - 1, kind: 'aggregate', hash: hex(r * 1000 + 999) });
  const updates = [...deltas.entries()].map(([h, d]) => ({ client: `0x${h.slice(-40)}`, updateHash: h, numSamples: d.numSamples }));
  const started = performance.now();
  const block = await scoreContributions({
    spec, base, baseHash: hex(r), validation, validationHash: hex(0), updates, arrival: updates.map((u) => u.client), earlier,
    loadUpdate: async (h) => deltas.get(h)!.delta,
    loadEarlier: async (e) => (e.kind === 'aggregate' ? aggregateStep(base, prevBase!) : previous.find((p) => p.hash === e.hash)!.delta),
  });
  const scores = block.entries.map((e) => (e.copyOf ? 0n : gainScore(block.aggregateLoss, e.looLoss, e.gainStdError)));
  const pay = splitProRata(PER_ROUND, scores);
  block.entries.forEach((e, i) => {
    const who = deltas.get(e.updateHash)!.who;
    earned.set(who, (earned.get(who) ?? 0n) + pay[i]!);
    total += pay[i]!;
  });
  process.stderr.write(`round ${r}: scored ${updates.length} updates in ${((performance.now() - started) / 1000).toFixed(1)} s; copies: ${block.entries.filter((e) => e.copyOf).map((e) => deltas.get(e.updateHash)!.who).join(', ') || 'none'}; aggregate loss ${block.aggregateLoss?.toFixed(4)}\n`);
  // The coordinator's FedAvg step over everything it accepted.
  const all = [...deltas.values()];
  const weight = all.reduce((s, d) => s + d.numSamples, 0);
  prevBase = base;
  base = Float32Array.from(base, (v, k) => v + all.reduce((s, d) => s + d.numSamples * d.delta[k]!, 0) / weight);
  previous = [...deltas.entries()].filter(([, d]) => d.who.startsWith('honest')).map(([hash, d]) => ({ hash, delta: d.delta }));
}

const share = (who: string) => (total === 0n ? 0 : Number((earned.get(who) ?? 0n) * 1_000_000n / total) / 1_000_000);
const honestShares = Array.from({ length: opts.clients }, (_, i) => share(`honest${i}`)).sort((a, b) => a - b);
const median = honestShares[Math.floor(honestShares.length / 2)]!;
process.stderr.write(`honest shares: ${honestShares.map((s) => s.toFixed(4)).join(' ')}\n`);
const met = KINDS.every((k) => share(k) <= 0.05 * median);
process.stdout.write(`freeloaders: honest_median=${median.toFixed(4)} ${KINDS.map((k) => `${k}=${share(k).toFixed(4)}`).join(' ')}\n`);
process.stdout.write(`target: every freeloader <= 0.05 x honest_median ${met ? 'MET' : 'NOT MET'}\n`);
process.exit(met ? 0 : 1);
