import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussianRdp, RDP_ORDERS } from '../../protocol/dp-accountant.ts';
import { samplePoisson, sampleSkellam, skellamMuPerClient } from '../../protocol/secagg/skellam.ts';
import { l1FromL2, recordedSecureEpsilon, roundedL2Bound, secureEpsilon, skellamRdp } from '../../protocol/secagg/skellam-accountant.ts';

/**
 * Distributed DP pieces of secure mode: the Skellam sampler's moments and pmf, the per-client mu,
 * and the Skellam RDP accountant against the Gaussian it should approach. Every random test runs
 * on a fixed seed, so a pass or failure is reproducible; tolerances are several standard errors.
 */

/** A seeded byte source: xoshiro128** words, little-endian. Deterministic, not for secrets. */
function seededBytes(seed: number): (n: number) => Uint8Array {
  // splitmix32 spreads the seed over the four state words, so nearby seeds give unrelated streams.
  let x = seed >>> 0;
  const split = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return (n) => {
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) {
      const m = Math.imul(b, 5);
      words[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
    }
    return new Uint8Array(words.buffer, 0, n);
  };
}

function moments(xs: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i] as number;
  const mean = sum / xs.length;
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += ((xs[i] as number) - mean) ** 2;
  return { mean, variance: sq / (xs.length - 1) };
}

function logFactorial(k: number): number {
  let s = 0;
  for (let i = 2; i <= k; i++) s += Math.log(i);
  return s;
}

const poissonPmf = (k: number, mu: number): number => Math.exp(-mu + k * Math.log(mu) - logFactorial(k));

/**
 * Pearson's chi-square of Poisson(mu) samples against the pmf, over the integers with expected
 * count >= 20 and the two tails pooled; returns the statistic and its degrees of freedom.
 */
function poissonChiSquare(samples: Float64Array, mu: number): { chi2: number; df: number } {
  const n = samples.length;
  const counts = new Map<number, number>();
  for (const k of samples) counts.set(k, (counts.get(k) ?? 0) + 1);
  let lo = Math.floor(mu);
  while (lo > 0 && n * poissonPmf(lo - 1, mu) >= 20) lo--;
  let hi = Math.floor(mu);
  while (n * poissonPmf(hi + 1, mu) >= 20) hi++;
  let chi2 = 0;
  let below = 0;
  let belowP = 0;
  let above = 0;
  let aboveP = 0;
  for (const [k, c] of counts) {
    if (k < lo) below += c;
    else if (k > hi) above += c;
  }
  for (let k = 0; k < lo; k++) belowP += poissonPmf(k, mu);
  let inside = 0;
  for (let k = lo; k <= hi; k++) {
    const p = poissonPmf(k, mu);
    inside += p;
    const e = n * p;
    chi2 += ((counts.get(k) ?? 0) - e) ** 2 / e;
  }
  aboveP = 1 - inside - belowP;
  let df = hi - lo; // bins minus one
  for (const [c, p] of [[below, belowP], [above, aboveP]] as const) {
    if (p * n >= 5) {
      chi2 += (c - n * p) ** 2 / (n * p);
      df += 1;
    } else {
      assert.ok(c <= Math.max(10, 10 * n * p), `tail holds ${c} samples where ${n * p} were expected`);
    }
  }
  return { chi2, df };
}

/** A chi-square bound that a correct sampler exceeds with probability far below 1e-6. */
const chiSquareLimit = (df: number): number => df + 8 * Math.sqrt(2 * df);

test('Skellam samples have mean 0 and variance 2·mu', () => {
  const n = 200_000;
  for (const [i, mu] of [0.5, 3, 50, 1e4, 1e7].entries()) {
    const s = sampleSkellam(mu, n, seededBytes(100 + i));
    assert.ok(s instanceof Int32Array);
    assert.equal(s.length, n);
    const { mean, variance } = moments(s);
    const v = 2 * mu;
    // Standard errors: sqrt(v/n) for the mean; v·sqrt((2 + kurtosis)/n) for the variance, the
    // excess kurtosis of Sk(mu, mu) being 1/(2mu).
    assert.ok(Math.abs(mean) < 5 * Math.sqrt(v / n), `mu=${mu}: mean ${mean}`);
    assert.ok(Math.abs(variance / v - 1) < 5 * Math.sqrt((2 + 1 / v) / n), `mu=${mu}: variance ${variance} vs ${v}`);
  }
});

test('Skellam samples are integers of both parities and signs', () => {
  const s = sampleSkellam(0.5, 10_000, seededBytes(7));
  let odd = 0;
  let neg = 0;
  let pos = 0;
  for (const x of s) {
    assert.ok(Number.isInteger(x));
    if (x % 2 !== 0) odd++;
    if (x < 0) neg++;
    if (x > 0) pos++;
  }
  assert.ok(odd > 1000 && neg > 1000 && pos > 1000, `odd ${odd}, negative ${neg}, positive ${pos}`);
});

test('the sampler is a function of its byte source only', () => {
  for (const mu of [2, 1e5]) {
    const a = sampleSkellam(mu, 5000, seededBytes(1));
    const b = sampleSkellam(mu, 5000, seededBytes(1));
    const c = sampleSkellam(mu, 5000, seededBytes(2));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  }
  // An unaligned source (a subarray at an odd offset) works and reads the same bytes.
  const src = seededBytes(3);
  const shifted = (n: number): Uint8Array => {
    const buf = new Uint8Array(n + 1);
    buf.set(src(n), 1);
    return buf.subarray(1);
  };
  assert.deepEqual(sampleSkellam(40, 3000, shifted), sampleSkellam(40, 3000, seededBytes(3)));
});

test('mu = 0 gives zeros without touching the source; bad mu and count throw RangeError', () => {
  const never = (): Uint8Array => assert.fail('the source was called');
  assert.deepEqual(sampleSkellam(0, 4, never), new Int32Array(4));
  assert.deepEqual(sampleSkellam(5, 0, never), new Int32Array(0));
  for (const mu of [-1, NaN, Infinity, 1.0001e12]) assert.throws(() => sampleSkellam(mu, 1, seededBytes(0)), RangeError);
  for (const count of [-1, 1.5, NaN]) assert.throws(() => sampleSkellam(1, count, seededBytes(0)), RangeError);
  assert.throws(() => sampleSkellam(1, 10, () => new Uint8Array(8)), RangeError);
  // The top of the range still samples, with the right spread.
  const big = moments(sampleSkellam(1e12, 20_000, seededBytes(9)));
  assert.ok(Math.abs(big.variance / 2e12 - 1) < 0.05, `variance ${big.variance}`);
});

test('Poisson by inversion (mu = 3) and by PTRS (mu = 10, 50, 1000) match the pmf', () => {
  const n = 1_000_000;
  for (const [i, mu] of [3, 10, 50, 1000].entries()) {
    const samples = samplePoisson(mu, n, seededBytes(200 + i));
    const { chi2, df } = poissonChiSquare(samples, mu);
    assert.ok(chi2 < chiSquareLimit(df), `mu=${mu}: chi-square ${chi2.toFixed(1)} on ${df} degrees of freedom`);
    // The moments catch small shifts of the whole pmf that the chi-square, spread over many
    // bins, is too weak for (a wrong PTRS offset or log-pmf moves the mean by a few hundredths).
    const { mean, variance } = moments(samples);
    assert.ok(Math.abs(mean - mu) < 5 * Math.sqrt(mu / n), `mu=${mu}: mean ${mean}`);
    assert.ok(Math.abs(variance / mu - 1) < 5 * Math.sqrt((2 + 1 / mu) / n), `mu=${mu}: variance ${variance}`);
  }
});

test('the chi-square check catches a sampler off by a little', () => {
  // Poisson(3.1) judged as Poisson(3): the test above must be able to fail.
  const { chi2, df } = poissonChiSquare(samplePoisson(3.1, 300_000, seededBytes(5)), 3);
  assert.ok(chi2 > chiSquareLimit(df), `chi-square ${chi2} on ${df}`);
});

test('skellamMuPerClient: minSurvivors clients together give sigmaTotal', () => {
  const sigmaTotal = 30;
  const minSurvivors = 5;
  const mu = skellamMuPerClient({ sigmaTotal, minSurvivors });
  assert.equal(mu, 90);
  const n = 100_000;
  const sum = new Float64Array(n);
  for (let c = 0; c < minSurvivors; c++) {
    const s = sampleSkellam(mu, n, seededBytes(300 + c));
    for (let i = 0; i < n; i++) sum[i] = (sum[i] as number) + (s[i] as number);
  }
  const { mean, variance } = moments(sum);
  assert.ok(Math.abs(mean) < 5 * Math.sqrt(sigmaTotal ** 2 / n), `mean ${mean}`);
  assert.ok(Math.abs(Math.sqrt(variance) / sigmaTotal - 1) < 0.01, `std ${Math.sqrt(variance)}`);
  // The threshold's clients carry the whole variance between them, however many there are.
  assert.equal(skellamMuPerClient({ sigmaTotal, minSurvivors: 9 }) * 9 * 2, sigmaTotal ** 2);
  assert.equal(skellamMuPerClient({ sigmaTotal: 0, minSurvivors: 3 }), 0);
  for (const bad of [{ sigmaTotal: -1, minSurvivors: 3 }, { sigmaTotal: 1, minSurvivors: 0 }, { sigmaTotal: 1, minSurvivors: 2.5 }, { sigmaTotal: NaN, minSurvivors: 3 }]) {
    assert.throws(() => skellamMuPerClient(bad), RangeError);
  }
});

test('skellamRdp: hand-computed values', () => {
  // α = 2, Δ1 = Δ2 = 1, muTotal = 1: 2/4 + min((3 + 6)/16, 3/4) = 0.5 + 0.5625.
  assert.equal(skellamRdp(2, 1, 1, 1), 1.0625);
  // α = 3, Δ1 = 4, Δ2 = 2, muTotal = 10: 12/40 + min((5·4 + 24)/1600, 12/40) = 0.3 + 0.0275.
  assert.ok(Math.abs(skellamRdp(3, 4, 2, 10) - 0.3275) < 1e-15);
  // Where the second branch of the min is the smaller: α = 100, Δ1 = Δ2 = 1, muTotal = 1:
  // 100/4 + min(205/16, 3/4) = 25.75.
  assert.equal(skellamRdp(100, 1, 1, 1), 25.75);
  // A fractional order is charged as the next integer.
  assert.equal(skellamRdp(1.5, 1, 1, 1), skellamRdp(2, 1, 1, 1));
});

test('secureEpsilon: a hand-computed case', () => {
  // One round, Δ1 = Δ2 = 1, muTotal = 1e4, δ = 1e-5. The optimum order is near 1 + sqrt(4e4·ln 1e5)
  // ≈ 680; of the grid, 512 wins: 512/4e4 + (1023 + 6)/(16e8) + ln(1e5)/511.
  const got = secureEpsilon({ rounds: 1, l1: 1, l2: 1, muTotal: 1e4, delta: 1e-5 });
  const want = 512 / 4e4 + 1029 / 16e8 + Math.log(1e5) / 511;
  assert.equal(got.alpha, 512);
  assert.ok(Math.abs(got.epsilon - want) < 1e-12, `${got.epsilon} vs ${want}`);
  assert.equal(recordedSecureEpsilon({ rounds: 1, l1: 1, l2: 1, muTotal: 1e4, delta: 1e-5 }), Number(want.toFixed(6)));
  assert.equal(Number(want.toFixed(6)), 0.035331);
});

test('secureEpsilon falls as noise grows and rises with rounds', () => {
  const base = { rounds: 10, l1: 40, l2: 20, delta: 1e-6 };
  let last = Infinity;
  for (const muTotal of [1e2, 1e3, 1e4, 1e5, 1e6]) {
    const { epsilon } = secureEpsilon({ ...base, muTotal });
    assert.ok(epsilon < last, `muTotal ${muTotal}: ${epsilon} >= ${last}`);
    last = epsilon;
  }
  last = 0;
  for (const rounds of [0, 1, 5, 50, 500]) {
    const { epsilon } = secureEpsilon({ ...base, rounds, muTotal: 1e4 });
    assert.ok(epsilon > last, `rounds ${rounds}: ${epsilon} <= ${last}`);
    last = epsilon;
  }
});

test('Skellam RDP is at least the Gaussian one at the same variance, and within a few % for large mu', () => {
  const l2 = 50;
  const l1 = l1FromL2(l2, 10_000);
  for (const alpha of RDP_ORDERS) {
    for (const muTotal of [1e2, 1e4, 1e6, 1e8]) {
      // Gaussian with σ² = 2·muTotal and sensitivity l2: noise multiplier σ / l2.
      const gauss = gaussianRdp(Math.ceil(alpha), Math.sqrt(2 * muTotal) / l2);
      const sk = skellamRdp(alpha, l1, l2, muTotal);
      assert.ok(sk >= gauss, `alpha ${alpha}, mu ${muTotal}`);
      if (muTotal >= 1e6) assert.ok(sk <= gauss * 1.03, `alpha ${alpha}, mu ${muTotal}: ${sk} vs ${gauss}`);
    }
  }
  // And so the epsilons: close to the Gaussian accountant's for the same σ.
  const muTotal = 1e6;
  const sk = secureEpsilon({ rounds: 100, l1, l2, muTotal, delta: 1e-5 }).epsilon;
  let gauss = Infinity;
  for (const alpha of RDP_ORDERS) {
    gauss = Math.min(gauss, 100 * gaussianRdp(alpha, Math.sqrt(2 * muTotal) / l2) + Math.log(1e5) / (alpha - 1));
  }
  assert.ok(sk >= gauss && sk <= gauss * 1.05, `${sk} vs ${gauss}`);
});

test('accountant input validation throws RangeError', () => {
  for (const alpha of [1, 0.5, NaN, Infinity]) assert.throws(() => skellamRdp(alpha, 1, 1, 1), RangeError);
  assert.throws(() => skellamRdp(2, -1, 1, 1), RangeError);
  assert.throws(() => skellamRdp(2, 1, NaN, 1), RangeError);
  for (const muTotal of [0, -1, NaN, Infinity]) assert.throws(() => skellamRdp(2, 1, 1, muTotal), RangeError);
  const ok = { rounds: 1, l1: 1, l2: 1, muTotal: 10, delta: 1e-5 };
  for (const bad of [{ rounds: -1 }, { rounds: NaN }, { delta: 0 }, { delta: 1 }, { muTotal: 0 }, { l2: -2 }, { l1: Infinity }]) {
    assert.throws(() => secureEpsilon({ ...ok, ...bad }), RangeError);
  }
  for (const [c, d, b] of [[-1, 10, 0.1], [1, 0, 0.1], [1, 2.5, 0.1], [1, 10, 1], [1, 10, -0.1], [NaN, 10, 0.1]] as const) {
    assert.throws(() => roundedL2Bound(c, d, b), RangeError);
  }
  assert.throws(() => l1FromL2(-1, 4), RangeError);
  assert.throws(() => l1FromL2(1, 0), RangeError);
});

test('roundedL2Bound is at least the clip, grows with dim, and has the DDG values', () => {
  const beta = Math.exp(-0.5);
  for (const c of [0, 1, 100, 1e4]) {
    let last = 0;
    for (const d of [1, 10, 1000, 1e5, 1e7]) {
      const bound = roundedL2Bound(c, d, beta);
      assert.ok(bound >= c && bound > last, `c ${c}, d ${d}: ${bound}`);
      assert.ok(bound <= c + Math.sqrt(d));
      last = bound;
    }
  }
  // beta = 0: only the deterministic bound c + √d.
  assert.equal(roundedL2Bound(10, 16, 0), 14);
  // beta = e^-0.5 makes √(2·log(1/β)) = 1: √(c² + d/4 + c + √d/2) = √(100 + 4 + 10 + 2) for c = 10, d = 16.
  assert.ok(Math.abs(roundedL2Bound(10, 16, beta) - Math.sqrt(116)) < 1e-12);
  // A failure probability near 1 cannot make the conditional bound beat the clip itself.
  assert.ok(roundedL2Bound(10, 16, 0.999) > 10);
  // l1FromL2: the square for small integer vectors, √d·l2 for large ones.
  assert.equal(l1FromL2(3, 100), 9);
  assert.equal(l1FromL2(30, 100), 300);
});
