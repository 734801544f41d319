import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subset } from '../../client/data/dataset.ts';
import { loadIris } from '../../client/data/iris.ts';
import { loadMnist } from '../../client/data/mnist.ts';
import { evaluate, trainLocal } from '../../client/tf/trainer.ts';
import { initialWeights, PRESET_MODELS, Prng, ProtocolError, type ModelSpec } from '../../protocol/index.ts';
import {
  aggregateStep,
  decodeValidationSet,
  detExp,
  detLog,
  detSqrt,
  deterministicEvaluate,
  encodeValidationSet,
  gainScore,
  scoreContributions,
  signedCosineSquared,
  sketch,
  sketchPlan,
  type EarlierItem,
} from '../../protocol/scoring/index.ts';
import { threadedEvaluator } from '../../protocol/scoring/eval-threads.ts';

describe('contribution scores: deterministic numerics', () => {
  test('exp and log from basic operations: close to Math, and pinned to the bit', () => {
    for (let i = 0; i < 2000; i++) {
      const x = -700 + i * 0.7;
      const rel = Math.abs(detExp(x) - Math.exp(x)) / Math.exp(x);
      assert.ok(rel < 1e-15, `exp(${x}) off by ${rel}`);
      const y = Math.exp(-300 + i * 0.3);
      assert.ok(Math.abs(detLog(y) - Math.log(y)) <= 1e-15 * Math.max(1, Math.abs(Math.log(y))), `log(${y})`);
    }
    // These exact doubles are what every audit of a validation-gain round depends on: a change to
    // the algorithm that moves any of them would make old manifests fail their audit.
    assert.equal(detExp(1), 2.7182818284590455);
    assert.equal(detExp(-20.25), 1.6052280551856116e-9);
    assert.equal(detExp(700), 1.0142320547350045e304);
    assert.equal(detExp(-740), 4.2e-322);
    assert.equal(detLog(0.1), -2.3025850929940455);
    assert.equal(detLog(12345.678), 9.421061321291832);
    assert.equal(detLog(1.0000001), 9.999999505838704e-8);
    assert.equal(detExp(0), 1);
    assert.equal(detLog(1), 0);
    assert.equal(detLog(0), -Infinity);
    assert.ok(Number.isNaN(detLog(-1)));
    assert.equal(detExp(1000), Infinity);
    for (const x of [2, 1e-300, 7.25, 1e300, 0.3]) assert.ok(Math.abs(detSqrt(x) - Math.sqrt(x)) <= 2 * Number.EPSILON * Math.sqrt(x), `sqrt(${x})`);
    assert.equal(detSqrt(16), 4);
    assert.equal(detSqrt(0), 0);
  });

  test('the float64 forward pass gives the loss and accuracy TensorFlow.js gives (MLP and CNN)', async () => {
    const iris = loadIris();
    const irisSpec = PRESET_MODELS['iris-mlp'] as unknown as ModelSpec;
    const mnist = subset(loadMnist(), Array.from({ length: 40 }, (_, i) => i * 250));
    const cnnSpec = PRESET_MODELS['mnist-cnn'] as unknown as ModelSpec;
    for (const [spec, data] of [[irisSpec, iris], [cnnSpec, mnist]] as const) {
      const w = initialWeights(spec, 4);
      // Not the zero-bias initial point only: nudge every weight so biases and all paths matter.
      const rng = new Prng(9);
      for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + (rng.next() - 0.5) * 0.05;
      const mine = deterministicEvaluate(spec, w, data);
      const tf = await evaluate({ spec, weights: w, data });
      assert.ok(Math.abs(mine.loss - tf.loss) < 1e-5, `loss ${mine.loss} vs tfjs ${tf.loss}`);
      assert.equal(mine.correct / data.n, tf.accuracy);
      assert.deepEqual(deterministicEvaluate(spec, w, data), mine, 'the same bits twice');
    }
  });

  test('the unrolled conv2d kernels give the generic loop\'s bits (valid and same padding, strides, channels, zero inputs)', () => {
    const mnist = subset(loadMnist(), Array.from({ length: 12 }, (_, i) => i * 333));
    const cnn = PRESET_MODELS['mnist-cnn'] as unknown as ModelSpec;
    const odd: ModelSpec = {
      inputShape: [9, 9, 3],
      classes: 4,
      layers: [
        { type: 'conv2d', filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' },
        { type: 'conv2d', filters: 32, kernelSize: 2, strides: 1, padding: 'valid', activation: 'relu' },
        { type: 'conv2d', filters: 33, kernelSize: 2, strides: 1, padding: 'same', activation: 'relu' },
        { type: 'flatten' },
        { type: 'dense', units: 4, activation: 'softmax' },
      ],
    } as unknown as ModelSpec;
    const rng = new Prng(21);
    // A third of the inputs exactly 0, so the skipped terms are exercised too.
    const oddData = { n: 7, x: Float32Array.from({ length: 7 * 243 }, () => (rng.next() < 0.33 ? 0 : rng.normal())), y: Uint8Array.from({ length: 7 }, (_, i) => i % 4) };
    for (const [spec, data] of [[cnn, mnist], [odd, oddData]] as const) {
      const w = initialWeights(spec, 2);
      for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + (rng.next() - 0.5) * 0.1;
      const fast = deterministicEvaluate(spec, w, data);
      const generic = deterministicEvaluate(spec, w, data, { generic: true });
      assert.ok(Number.isFinite(fast.loss));
      assert.deepEqual(fast, generic);
    }
    // Pinned: a change to the numeric path that moves this double would fail every earlier audit.
    const w = initialWeights(cnn, 1);
    for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + 0.01 * Math.sin(i);
    const hundred = subset(loadMnist(), Array.from({ length: 100 }, (_, i) => (i * 97) % loadMnist().n));
    assert.equal(deterministicEvaluate(cnn, w, hundred).loss, 2.3119647206350957);
  });

  test('evaluation threads report a bad input as an error and keep serving', async () => {
    const spec = PRESET_MODELS['iris-mlp'] as unknown as ModelSpec;
    const iris = loadIris();
    const e = threadedEvaluator(spec, iris, 2);
    await assert.rejects(e.evaluate(new Float32Array(3)), /evaluation failed: weights hold 3 values/);
    const w = initialWeights(spec, 5);
    assert.deepEqual(await e.evaluate(Float32Array.from(w)), deterministicEvaluate(spec, w, iris));
    e.close();
  });

  test('validation sets: round trip, and every malformed field named', () => {
    const v = { x: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), y: Uint16Array.from([0, 2]), n: 2, features: 4, classes: 3 };
    const bytes = encodeValidationSet(v);
    assert.deepEqual(decodeValidationSet(bytes), v);
    const bad = (b: Uint8Array, re: RegExp) => assert.throws(() => decodeValidationSet(b), (e: unknown) => e instanceof ProtocolError && e.code === 'BAD_VALIDATION_SET' && re.test(e.message));
    bad(new TextEncoder().encode('nope'), /no FLVS header/);
    bad(bytes.slice(0, -1), /bytes; 2 samples of 4 features take/);
    const label = bytes.slice();
    label[label.length - 2] = 3;
    bad(label, /label 3 of sample 1 is not below 3/);
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(17 + 4, NaN, true);
    bad(nan, /feature 1 of sample 0 is not finite/);
  });

  test('count sketches estimate cosines: a copy is 1, independent deltas are near 0', () => {
    const rng = new Prng(3);
    const n = 20_000;
    const a = Float32Array.from({ length: n }, () => rng.normal());
    const b = Float32Array.from({ length: n }, () => rng.normal());
    const plan = sketchPlan(new Uint8Array(32).fill(1), n);
    const sa = sketch(plan, a);
    assert.ok(Math.abs(signedCosineSquared(sa, sketch(plan, a.map((v) => v * 0.2))) - 1) < 1e-12);
    assert.ok(Math.abs(signedCosineSquared(sa, sketch(plan, b))) < 0.02);
    assert.ok(signedCosineSquared(sa, sketch(plan, a.map((v) => -v))) < -0.99, 'a negated copy has cosine -1');
    assert.equal(signedCosineSquared(sa, sketch(plan, new Float32Array(n))), 0);
  });
});

describe('contribution scores: freeloaders on real iris training', () => {
  const spec = PRESET_MODELS['iris-mlp'] as unknown as ModelSpec;
  const iris = loadIris();
  const order = new Prng(7).shuffle(Array.from({ length: iris.n }, (_, i) => i));
  const validation = { ...subset(iris, order.slice(0, 45)), features: 4, classes: 3 };
  const pool = order.slice(45);
  const train = async (base: Float32Array, idx: number[], seed: number) =>
    (await trainLocal({ spec, baseWeights: base, data: subset(iris, idx), training: { localEpochs: 5, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, seed })).delta;
  const hash = (i: number) => `0x${i.toString(16).padStart(64, '0')}`;

  test('zeros, noise, copies, scaled copies, a re-upload of its own last delta and of the last aggregate step each score 0', async () => {
    const base0 = initialWeights(spec, 2);
    const shards = [pool.slice(0, 50), pool.slice(50, 80), pool.slice(80, 105)];
    const r1 = await Promise.all(shards.map((s, i) => train(base0, s, i)));
    const step1 = Float32Array.from(base0, (_, k) => (50 * r1[0]![k]! + 30 * r1[1]![k]! + 25 * r1[2]![k]!) / 105);
    const base1 = Float32Array.from(base0, (v, k) => v + step1[k]!);
    const r2 = await Promise.all(shards.map((s, i) => train(base1, s, 10 + i)));
    const rng = new Prng(5);
    const norm = Math.hypot(...r2[0]!);
    const noise = Float32Array.from(r2[0]!, () => rng.normal());
    const nn = Math.hypot(...noise);
    const deltas = new Map<string, { delta: Float32Array; kind: string; numSamples: number }>();
    r2.forEach((d, i) => deltas.set(hash(1 + i), { delta: d, kind: `honest${i}`, numSamples: shards[i]!.length }));
    const freeloaders: [string, Float32Array][] = [
      ['zero', new Float32Array(norm ? r2[0]!.length : 0)],
      ['noise', noise.map((v) => (v / nn) * norm)],
      ['copy', r2[1]!.map((v) => v * (1 + 1e-3 * rng.normal()))],
      ['scaled', r2[2]!.map((v) => v * 0.25)],
      ['own-previous', r1[0]!],
      ['aggregate-step', step1.map((v) => v * 2)],
    ];
    freeloaders.forEach(([kind, d], j) => deltas.set(hash(100 + j), { delta: d, kind, numSamples: 50 }));
    const earlierDeltas = new Map<string, Float32Array>(r1.map((d, i) => [hash(1000 + i), d]));
    const aggregateHash = hash(2000);
    const earlier: EarlierItem[] = [...[0, 1, 2].map((i) => ({ round: 1, kind: 'update' as const, hash: hash(1000 + i) })), { round: 1, kind: 'aggregate', hash: aggregateHash }];
    // Honest owners upload first, freeloaders after (a copier needs the original first).
    const updates = [...deltas.entries()].map(([h, d]) => ({ client: `0x${h.slice(-40)}`, updateHash: h, numSamples: d.numSamples }));
    const arrival = updates.map((u) => u.client);
    const block = await scoreContributions({
      spec, base: base1, baseHash: hash(9), validation, validationHash: hash(8), updates, arrival, earlier,
      loadUpdate: async (h) => deltas.get(h)!.delta,
      loadEarlier: async (e) => (e.kind === 'aggregate' ? aggregateStep(Float32Array.from(base1), base0) : earlierDeltas.get(e.hash)!),
    });
    const score = new Map(block.entries.map((e) => [deltas.get(e.updateHash)!.kind, e.copyOf ? 0n : gainScore(block.aggregateLoss, e.looLoss, e.gainStdError)]));
    const copies = block.entries.filter((e) => e.copyOf).map((e) => deltas.get(e.updateHash)!.kind).sort();
    assert.deepEqual(copies, ['aggregate-step', 'copy', 'own-previous', 'scaled']);
    const honest = [0, 1, 2].map((i) => score.get(`honest${i}`)!).sort((a, b) => (a < b ? -1 : 1));
    assert.ok(honest[1]! > 0n, `the median honest owner scores: ${honest}`);
    for (const [kind] of freeloaders) assert.ok(score.get(kind)! * 20n <= honest[1]!, `${kind} scored ${score.get(kind)}, median honest ${honest[1]}`);

    // The same inputs give the same block, bit for bit (what the auditor relies on), inline and on
    // evaluation threads (what the coordinator and fl-audit run), whatever the thread count.
    for (const threads of [1, 2, 3]) {
      const evaluator = threadedEvaluator(spec, validation, threads);
      const again = await scoreContributions({
        evaluator,
        spec, base: base1, baseHash: hash(9), validation, validationHash: hash(8), updates, arrival, earlier,
        loadUpdate: async (h) => deltas.get(h)!.delta,
        loadEarlier: async (e) => (e.kind === 'aggregate' ? aggregateStep(Float32Array.from(base1), base0) : earlierDeltas.get(e.hash)!),
      });
      evaluator.close();
      assert.equal(evaluator.parallelism, threads);
      assert.deepEqual(again, block, `${threads} threads`);
    }
  });

  test('the first arrival keeps its score; an arrival order that misses an update is refused', async () => {
    const base = initialWeights(spec, 3);
    const d = await train(base, pool.slice(0, 60), 1);
    const deltas = new Map([[hash(1), d], [hash(2), d.slice()]]);
    const updates = [...deltas.keys()].map((h) => ({ client: `0x${h.slice(-40)}`, updateHash: h, numSamples: 60 }));
    const args = { spec, base, baseHash: hash(9), validation, validationHash: hash(8), updates, earlier: [], loadUpdate: async (h: string) => deltas.get(h)!, loadEarlier: async () => new Float32Array(0) };
    const client = (h: string) => `0x${h.slice(-40)}`;
    const a = await scoreContributions({ ...args, arrival: [client(hash(2)), client(hash(1))] });
    assert.deepEqual(a.entries.map((e) => e.copyOf), [hash(2), null]);
    assert.ok(gainScore(a.aggregateLoss, a.entries[1]!.looLoss, a.entries[1]!.gainStdError) > 0n);
    await assert.rejects(scoreContributions({ ...args, arrival: [client(hash(1))] }), /arrival order must name every accepted update/);
    // Two clients uploading the very same bytes: one update hash, two entries; the later one is the copy.
    const same = new Map([[hash(1), d]]);
    const twins = [{ client: client(hash(1)), updateHash: hash(1), numSamples: 60 }, { client: client(hash(2)), updateHash: hash(1), numSamples: 60 }];
    const t = await scoreContributions({ ...args, updates: twins, loadUpdate: async (h: string) => same.get(h)!, arrival: [client(hash(1)), client(hash(2))] });
    assert.deepEqual(t.entries.map((e) => [e.client, e.copyOf]), [[client(hash(1)), null], [client(hash(2)), hash(1)]]);
    assert.ok(gainScore(t.aggregateLoss, t.entries[0]!.looLoss, t.entries[0]!.gainStdError) > 0n);
  });
});
