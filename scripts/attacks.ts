/**
 * `npm run attacks`: the poisoning harness. Federated MNIST in one process (the project's own
 * TensorFlow.js training, data split and partition, and its real aggregation strategies), with a
 * share of the clients malicious, for every strategy x attack x share; prints and writes the final
 * test accuracy of each run (docs/robustness.md holds a measured table and how to read it).
 *
 * Attacks, applied by the malicious clients to what they upload:
 *   sign-flip  train honestly, upload -delta
 *   scale-100  train honestly, upload 100 x delta
 *   gaussian   no training, upload N(0, sigma^2) per coordinate (--noise-sigma, default 1)
 *   label-flip train on labels 9 - y, upload that delta
 */
import { writeFileSync } from 'node:fs';

// `--privacy` is the label-inference attack against open and secure updates: its own harness.
// `--freeloaders` is what copies, zeros and noise earn under the validation-gain rule: its own harness too.
if (process.argv.includes('--freeloaders')) {
  await import('./freeloader-attack.ts');
  await new Promise(() => {}); // freeloader-attack.ts exits by itself
}
if (process.argv.includes('--privacy')) {
  await import('./privacy-attack.ts');
  await new Promise(() => {}); // privacy-attack.ts exits by itself
}
import { Command } from 'commander';
import { dirichletPartition } from '../client/data/partition.ts';
import { forModel } from '../client/data/load-data.ts';
import { loadMnist, splitTrainTest } from '../client/data/mnist.ts';
import { subset, type Dataset } from '../client/data/dataset.ts';
import { initBackend } from '../client/tf/backend.ts';
import { evaluate, trainLocal } from '../client/tf/trainer.ts';
import { createStrategy, l2Norm, type ClientDelta } from '../coordinator/strategies/index.ts';
import { initialWeights, PRESET_MODELS, Prng, StrategyConfig, type ServerState } from '../protocol/index.ts';

const ATTACKS = ['none', 'sign-flip', 'scale-100', 'gaussian', 'label-flip'] as const;
type Attack = (typeof ATTACKS)[number];

const o = new Command('attacks')
  .description('final test accuracy of each strategy under each poisoning attack')
  .option('--rounds <n>', 'rounds per run', (v) => Number(v), 5)
  .option('--clients <n>', 'clients per round', (v) => Number(v), 10)
  .option('--fractions <list>', 'malicious shares', (v) => v.split(',').map(Number), [0.2, 0.4])
  .option('--model <name>', 'mnist-mlp | mnist-cnn', 'mnist-mlp')
  .option('--epochs <n>', 'local epochs', (v) => Number(v), 1)
  .option('--lr <x>', 'local learning rate', (v) => Number(v), 0.05)
  .option('--alpha <a>', 'Dirichlet label skew', (v) => Number(v), 0.5)
  .option('--seed <s>', 'seed of split, partition, weights and noise', (v) => Number(v), 1)
  .option('--noise-sigma <x>', 'standard deviation of the gaussian attack', (v) => Number(v), 1)
  .option('--attacks <list>', `attacks to run, besides the clean run (${ATTACKS.filter((a) => a !== 'none').join(',')})`, (v) => v.split(','), ATTACKS.filter((a) => a !== 'none'))
  .option('--out <file>', 'JSON results', 'attacks-results.json')
  .option('--json', 'progress on stderr; stdout is the results as one JSON line', false)
  .addHelpText('after', '\nExit codes: 0 every run finished (whatever the accuracies); 1 usage error or a failed run.')
  .parse()
  .opts<{ rounds: number; clients: number; fractions: number[]; model: 'mnist-mlp' | 'mnist-cnn'; epochs: number; lr: number; alpha: number; seed: number; noiseSigma: number; attacks: string[]; out: string; json: boolean }>();
const unknownAttack = o.attacks.find((a) => !(ATTACKS as readonly string[]).includes(a) || a === 'none');
if (unknownAttack !== undefined) {
  console.error(`attacks: unknown attack ${unknownAttack}; one of ${ATTACKS.filter((a) => a !== 'none').join(', ')}`);
  process.exit(1);
}
/** Progress lines: stdout normally, stderr with --json (stdout is then the result alone). */
const say = (line: string) => (o.json ? console.error(line) : console.log(line));

await initBackend();
const spec = PRESET_MODELS[o.model];
const { train, test: rawTest } = splitTrainTest(loadMnist(), 8000, o.seed);
const shards: Dataset[] = dirichletPartition(train.y, o.clients, o.alpha, o.seed).map((p) => forModel(subset(train, p), spec.inputShape));
const test = forModel(rawTest, spec.inputShape);
const training = { localEpochs: o.epochs, batchSize: 32, learningRate: o.lr, optimizer: 'sgd' as const };
const flipped = (d: Dataset): Dataset => ({ ...d, y: Uint8Array.from(d.y, (y) => 9 - y) });

// Round 1 starts from the same genesis weights in every run: train it once per client and data.
const firstRound = new Map<string, Float32Array>();
async function train1(c: number, round: number, base: Float32Array, labelFlip: boolean): Promise<Float32Array> {
  const key = `${c}:${labelFlip}`;
  if (round === 1 && firstRound.has(key)) return firstRound.get(key)!;
  const r = await trainLocal({ spec, baseWeights: base, data: labelFlip ? flipped(shards[c]!) : shards[c]!, training, seed: o.seed * 100_000 + round * 100 + c });
  if (round === 1) firstRound.set(key, r.delta);
  return r.delta;
}

interface RunResult { strategy: string; attack: Attack; fraction: number; malicious: number; accuracy: number; loss: number; seconds: number }

async function run(label: string, cfg: unknown, attack: Attack, fraction: number): Promise<RunResult> {
  const t0 = performance.now();
  const malicious = attack === 'none' ? 0 : Math.round(o.clients * fraction);
  let weights = initialWeights(spec, o.seed);
  let serverState: ServerState = { scalars: {}, tensors: {} };
  const strategy = createStrategy(StrategyConfig.parse(cfg));
  for (let round = 1; round <= o.rounds; round++) {
    const noise = new Prng(o.seed * 7919 + round);
    const deltas: ClientDelta[] = [];
    for (let c = 0; c < o.clients; c++) {
      const bad = c >= o.clients - malicious;
      let delta: Float32Array;
      if (bad && attack === 'gaussian') {
        delta = new Float32Array(weights.length);
        for (let i = 0; i < delta.length; i += 2) {
          // Box-Muller: two normal samples from two uniforms.
          const u = Math.max(noise.next(), 1e-12);
          const v = noise.next();
          const r = Math.sqrt(-2 * Math.log(u)) * o.noiseSigma;
          delta[i] = r * Math.cos(2 * Math.PI * v);
          if (i + 1 < delta.length) delta[i + 1] = r * Math.sin(2 * Math.PI * v);
        }
      } else {
        delta = await train1(c, round, weights, bad && attack === 'label-flip');
        if (bad && attack === 'sign-flip') delta = delta.map((x) => -x);
        if (bad && attack === 'scale-100') delta = delta.map((x) => 100 * x);
      }
      deltas.push({ id: `c${String(c).padStart(3, '0')}`, delta, numSamples: shards[c]!.n });
    }
    const out = await strategy.aggregate({ base: weights, serverState, count: deltas.length, deltas: async function* () { yield* deltas; } });
    weights = out.weights;
    serverState = out.serverState;
  }
  const ev = await evaluate({ spec, weights, data: test });
  const r = { strategy: label, attack, fraction: attack === 'none' ? 0 : fraction, malicious, accuracy: Number.isFinite(ev.accuracy) ? ev.accuracy : 0, loss: ev.loss, seconds: (performance.now() - t0) / 1000 };
  say(`attacks: ${label.padEnd(12)} ${attack.padEnd(10)} malicious=${malicious}/${o.clients} accuracy=${r.accuracy.toFixed(4)} loss=${Number.isFinite(ev.loss) ? ev.loss.toFixed(3) : ev.loss} (${r.seconds.toFixed(0)} s)`);
  return r;
}

// The clip bound: the median norm of the honest round-1 updates (what an operator would calibrate from a clean round).
const norms: number[] = [];
for (let c = 0; c < o.clients; c++) norms.push(l2Norm(await train1(c, 1, initialWeights(spec, o.seed), false)));
const clipNorm = [...norms].sort((a, b) => a - b)[Math.floor(norms.length / 2)]!;
say(`attacks: ${o.model}, ${o.clients} clients, ${o.rounds} rounds, ${o.epochs} local epoch(s), alpha ${o.alpha}, seed ${o.seed}; clip bound ${clipNorm.toFixed(3)} (median honest round-1 norm)`);

const strategies = (f: number): [string, unknown][] => {
  const f0 = Math.round(o.clients * f);
  // Multi-Krum needs n > 2f + 2; past that it is run with the largest f it accepts.
  const krumF = Math.max(0, Math.min(f0, Math.floor((o.clients - 3) / 2)));
  return [
    ['fedavg', { name: 'fedavg' }],
    ['median', { name: 'median' }],
    ['trimmed-mean', { name: 'trimmed-mean', trimFraction: Math.min(0.45, Math.max(0.1, f)) }],
    ['multi-krum', { name: 'krum', byzantine: krumF, select: Math.max(1, o.clients - f0) }],
    ['clip+fedavg', { name: 'fedavg', clip: { maxNorm: clipNorm } }],
  ];
};

const started = performance.now();
const results: RunResult[] = [];
for (const [label, cfg] of strategies(o.fractions[0] ?? 0.2)) results.push(await run(label, cfg, 'none', 0));
for (const fraction of o.fractions) {
  for (const attack of ATTACKS.filter((a) => a !== 'none' && o.attacks.includes(a))) {
    for (const [label, cfg] of strategies(fraction)) results.push(await run(label, cfg, attack, fraction));
  }
}
const settings = { ...o, clipNorm, wallSeconds: (performance.now() - started) / 1000 };
writeFileSync(o.out, `${JSON.stringify({ settings, results }, null, 2)}\n`);

// The markdown table: strategies as rows, attack x share as columns, the clean run first.
const labels = strategies(0.2).map(([l]) => l);
const cols: [Attack, number][] = [['none', 0], ...o.fractions.flatMap((f) => ATTACKS.filter((a) => a !== 'none' && o.attacks.includes(a)).map((a): [Attack, number] => [a, f]))];
const cell = (l: string, a: Attack, f: number) => results.find((r) => r.strategy === l && r.attack === a && r.fraction === f)?.accuracy;
const lines = [
  `| strategy | ${cols.map(([a, f]) => (a === 'none' ? 'clean' : `${a} ${Math.round(f * 100)}%`)).join(' | ')} |`,
  `|---|${cols.map(() => '---').join('|')}|`,
  ...labels.map((l) => `| ${l} | ${cols.map(([a, f]) => { const v = cell(l, a, f); return v === undefined ? '' : v.toFixed(3); }).join(' | ')} |`),
];
say(`\n${lines.join('\n')}\n\nattacks: done in ${settings.wallSeconds.toFixed(0)} s; wrote ${o.out}`);
if (o.json) console.log(JSON.stringify({ settings, results }));
