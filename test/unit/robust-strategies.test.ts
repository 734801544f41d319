import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClipStrategy, clipToNorm, createStrategy, FedAvgStrategy, l2Norm, type AggregateInput, type ClientDelta } from '../../coordinator/strategies/index.ts';
import { buildManifest, gaussianEpsilon, gaussianRdp, Prng, recordedEpsilon, StrategyConfig, verifyManifest } from '../../protocol/index.ts';

const N = 500;

/** Honest clients: a shared direction plus small noise; attackers: the direction flipped and scaled x100. */
function round(honest: number, attackers: number, seed = 1): { input: AggregateInput; truth: Float32Array } {
  const rng = new Prng(seed);
  const direction = Float32Array.from({ length: N }, () => (rng.next() - 0.5) * 0.02);
  const rows: ClientDelta[] = [];
  for (let c = 0; c < honest; c++) rows.push({ id: `h${c}`, numSamples: 100, delta: direction.map((v) => v + (rng.next() - 0.5) * 0.002) });
  for (let c = 0; c < attackers; c++) rows.push({ id: `m${c}`, numSamples: 100, delta: direction.map((v) => -100 * v) });
  const input: AggregateInput = {
    base: new Float32Array(N),
    serverState: { scalars: {}, tensors: {} },
    count: rows.length,
    deltas: async function* () {
      yield* rows;
    },
  };
  return { input, truth: direction };
}

/** Distance from the honest direction, relative to its size. */
const relError = (w: Float32Array, truth: Float32Array) => l2Norm(w.map((v, i) => v - truth[i]!)) / l2Norm(truth);

describe('norm clipping', () => {
  test('clipToNorm scales a large delta onto the ball, keeps its direction, and leaves small ones and its input alone', () => {
    const d = Float32Array.from([3, 4]);
    const c = clipToNorm(d, 1);
    assert.ok(Math.abs(l2Norm(c) - 1) < 1e-6);
    assert.ok(Math.abs(c[0]! / c[1]! - 0.75) < 1e-6);
    assert.deepEqual([...d], [3, 4], 'input untouched');
    assert.equal(clipToNorm(d, 5), d, 'within the bound: the same array');
    assert.throws(() => new ClipStrategy(new FedAvgStrategy(), 0), /maxNorm/);
  });

  test('the clip wrapper bounds what one scaled-up attacker can do to FedAvg', async () => {
    const plain = await new FedAvgStrategy().aggregate(round(4, 1).input);
    const { input, truth } = round(4, 1);
    const clipped = await createStrategy(StrategyConfig.parse({ name: 'fedavg', clip: { maxNorm: l2Norm(truth) * 1.2 } })).aggregate(input);
    const e0 = relError(plain.weights, truth);
    const e1 = relError(clipped.weights, truth);
    assert.ok(e0 > 10, `plain FedAvg is ruined (relative error ${e0.toFixed(2)})`);
    assert.ok(e1 < 0.8, `clipped FedAvg stays near the honest direction (relative error ${e1.toFixed(2)})`);
  });

  test('clipping is deterministic: the same input gives the same bytes (re-aggregation by the auditor)', async () => {
    const cfg = StrategyConfig.parse({ name: 'trimmed-mean', trimFraction: 0.2, clip: { maxNorm: 0.05 } });
    const a = await createStrategy(cfg).aggregate(round(5, 2, 7).input);
    const b = await createStrategy(cfg).aggregate(round(5, 2, 7).input);
    assert.deepEqual(Buffer.from(a.weights.buffer), Buffer.from(b.weights.buffer));
  });

  test('a config without clip parses to exactly what it was, so existing manifests hash the same', () => {
    assert.deepEqual(StrategyConfig.parse({ name: 'fedavg' }), { name: 'fedavg' });
    assert.deepEqual(StrategyConfig.parse({ name: 'median', clip: { maxNorm: 2 } }), { name: 'median', clip: { maxNorm: 2 } });
    assert.equal(StrategyConfig.safeParse({ name: 'median', clip: { maxNorm: 0 } }).success, false);
    assert.equal(StrategyConfig.safeParse({ name: 'median', clip: { maxNorm: 2, extra: 1 } }).success, false);
  });
});

describe('robust rules against a 20% scaled sign-flip attacker', () => {
  for (const cfg of [{ name: 'median' }, { name: 'trimmed-mean', trimFraction: 0.2 }, { name: 'krum', byzantine: 1, select: 2 }] as const) {
    test(`${cfg.name} stays near the honest direction where FedAvg does not`, async () => {
      const { input, truth } = round(8, 2, 3);
      const robust = await createStrategy(StrategyConfig.parse(cfg)).aggregate(input);
      const plain = await new FedAvgStrategy().aggregate(round(8, 2, 3).input);
      assert.ok(relError(plain.weights, truth) > 10);
      assert.ok(relError(robust.weights, truth) < 0.5, `${cfg.name}: relative error ${relError(robust.weights, truth).toFixed(3)}`);
    });
  }
});

describe('differential privacy', () => {
  test('the RDP accountant matches hand-derived values (Mironov 2017)', () => {
    assert.equal(gaussianRdp(2, 1), 1);
    assert.equal(gaussianRdp(10, 2), 10 / 8);
    // One round, z = 1, delta = 1e-5: min over the grid of a/2 + ln(1e5)/(a - 1) is at a = 6: 3 + 11.5129/5.
    const one = gaussianEpsilon(1, 1, 1e-5);
    assert.equal(one.alpha, 6);
    assert.ok(Math.abs(one.epsilon - (3 + Math.log(1e5) / 5)) < 1e-12);
    // No round: only the conversion term, smallest at the largest order.
    assert.ok(Math.abs(gaussianEpsilon(0, 1, 1e-5).epsilon - Math.log(1e5) / 1023) < 1e-12);
    // More rounds spend more; more noise spends less.
    assert.ok(gaussianEpsilon(10, 1, 1e-5).epsilon > one.epsilon);
    assert.ok(gaussianEpsilon(1, 4, 1e-5).epsilon < one.epsilon);
    assert.equal(recordedEpsilon(1, 1, 1e-5), Number(one.epsilon.toFixed(6)));
    assert.throws(() => gaussianEpsilon(1, 0, 1e-5), RangeError);
  });

  const zeroRound = (clients: number, round = 3): AggregateInput => ({
    base: new Float32Array(20_000),
    serverState: { scalars: {}, tensors: {} },
    count: clients,
    round: { task: 1, round, baseHash: `0x${'ab'.repeat(32)}` },
    deltas: async function* () {
      for (let c = 0; c < clients; c++) yield { id: `c${c}`, numSamples: 50, delta: new Float32Array(20_000) };
    },
  });
  const dpCfg = StrategyConfig.parse({ name: 'fedavg', dp: { clipNorm: 1, noiseMultiplier: 1, delta: 1e-5 } });

  test('the DP wrapper adds Gaussian noise of std z x 2C x w_max / sum(w), drawn from the round\'s public seed', async () => {
    const out = await createStrategy(dpCfg).aggregate(zeroRound(4));
    let s = 0;
    let s2 = 0;
    for (const v of out.weights) {
      s += v;
      s2 += v * v;
    }
    const n = out.weights.length;
    const std = Math.sqrt(s2 / n - (s / n) ** 2);
    // 4 equal clients, C = 1, z = 1: std = 2 x 1 x 50 / 200 = 0.5.
    assert.ok(Math.abs(std - 0.5) < 0.015, `noise std ${std}`);
    assert.ok(Math.abs(s / n) < 0.02, 'zero mean');
    const again = await createStrategy(dpCfg).aggregate(zeroRound(4));
    assert.deepEqual(Buffer.from(again.weights.buffer), Buffer.from(out.weights.buffer), 'same round, same noise: re-aggregation reproduces it');
    const other = await createStrategy(dpCfg).aggregate(zeroRound(4, 4));
    assert.notDeepEqual(Buffer.from(other.weights.buffer), Buffer.from(out.weights.buffer), 'another round draws other noise');
    await assert.rejects(createStrategy(dpCfg).aggregate({ ...zeroRound(4), round: undefined }), /needs the round/);
  });

  test('DP clips every update to clipNorm before averaging', async () => {
    const big: AggregateInput = { ...zeroRound(1), deltas: async function* () { yield { id: 'x', numSamples: 1, delta: new Float32Array(20_000).fill(1) }; } };
    const cfg = StrategyConfig.parse({ name: 'fedavg', dp: { clipNorm: 1, noiseMultiplier: 0.1, delta: 1e-5 } });
    const out = await createStrategy(cfg).aggregate(big);
    // Unclipped, the mean would have norm sqrt(20000) = 141; clipped it is 1 plus noise of std 0.2 per coordinate.
    assert.ok(l2Norm(out.weights) < 0.25 * Math.sqrt(20_000), `norm ${l2Norm(out.weights)}`);
  });

  test('the manifest records the privacy spent, and verifyManifest catches a wrong figure', () => {
    const input = { task: 1, round: 7, baseHash: `0x${'11'.repeat(32)}`, checkpointHash: `0x${'22'.repeat(32)}`, strategy: dpCfg, reward: 0n, accepted: [], rejected: [] };
    const m = buildManifest(input);
    assert.deepEqual(m.privacy, { accountant: 'gaussian-rdp', rounds: 7, delta: 1e-5, epsilon: recordedEpsilon(7, 1, 1e-5) });
    assert.deepEqual(verifyManifest(m), []);
    const problems = verifyManifest({ ...m, privacy: { ...m.privacy!, epsilon: m.privacy!.epsilon / 2 } });
    assert.deepEqual(problems.map((p) => p.code), ['PRIVACY_MISMATCH']);
    assert.equal(buildManifest({ ...input, strategy: { name: 'fedavg' } }).privacy, undefined, 'no DP, no privacy record');
  });
});
