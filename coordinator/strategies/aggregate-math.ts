import { StrategyError } from './strategy-error.ts';

/**
 * Pure aggregation maths over flat float32 parameter vectors.
 *
 * Rules every function here follows, because an auditor re-runs aggregation and must get the same bytes:
 *  - inputs are never written, except an argument explicitly documented as an accumulator;
 *  - iteration order is fixed (client order as given, then coordinate order), no randomness;
 *  - scalar arithmetic is float64 (plain JS numbers) and results are rounded to float32 only when stored.
 * IEEE-754 double arithmetic is deterministic across JS engines, so the same code gives the same bytes.
 */

/** Adds weight x delta into acc, in place: the streaming step of every weighted mean. */
export function foldWeighted(acc: Float32Array, delta: Float32Array, weight: number): void {
  const n = acc.length;
  if (delta.length !== n) throw new StrategyError('SHAPE_MISMATCH', `delta has ${delta.length} values, expected ${n}`);
  // Hot loop (benchmarked against a bare multiply-add loop): no calls, length cached, `!` is type-only.
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + weight * delta[i]!;
}

/** Divides acc by divisor, in place: turns a weighted sum into a weighted mean. */
export function divideInPlace(acc: Float32Array, divisor: number): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] = acc[i]! / divisor;
}

/** Adds base into acc, in place: turns an aggregated delta into the next weights without a second buffer. */
export function addInPlace(acc: Float32Array, base: Float32Array): void {
  const n = acc.length;
  if (base.length !== n) throw new StrategyError('SHAPE_MISMATCH', `base has ${base.length} values, expected ${n}`);
  for (let i = 0; i < n; i++) acc[i] = base[i]! + acc[i]!;
}

/** Sample-weighted mean of already-collected deltas, summed in the given order. */
export function weightedMean(deltas: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const n = checkUniformLength(deltas);
  if (weights.length !== deltas.length) throw new StrategyError('SHAPE_MISMATCH', `${weights.length} weights for ${deltas.length} deltas`);
  let total = 0;
  for (const w of weights) total += w;
  if (!(total > 0)) throw new StrategyError('NO_SAMPLES', 'the weights of the deltas sum to zero');
  const acc = new Float32Array(n);
  for (let j = 0; j < deltas.length; j++) foldWeighted(acc, deltas[j]!, weights[j]!);
  divideInPlace(acc, total);
  return acc;
}

/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards Optimal
 * Statistical Rates"); with an even count, the mean of the two middle values.
 */
export function coordinateMedian(deltas: readonly Float32Array[]): Float32Array {
  const d = checkUniformLength(deltas);
  const n = deltas.length;
  const out = new Float32Array(d);
  // One scratch column reused for every coordinate; typed-array sort is numeric and total (NaN last),
  // so the order, and therefore the result, is fully determined by the values.
  const column = new Float64Array(n);
  const lo = (n - 1) >> 1;
  const hi = n >> 1;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < n; j++) column[j] = deltas[j]![i]!;
    column.sort();
    out[i] = lo === hi ? column[lo]! : (column[lo]! + column[hi]!) / 2;
  }
  return out;
}

/**
 * How many values trimmedMean drops at each end: floor(n x fraction). A tiny epsilon absorbs binary
 * representation error, so that 100 x 0.29 (28.999999999999996 in doubles) trims 29, as written.
 */
export function trimCount(n: number, trimFraction: number): number {
  if (!(trimFraction >= 0 && trimFraction < 0.5)) throw new StrategyError('BAD_CONFIG', `trimFraction must be in [0, 0.5), got ${trimFraction}`);
  return Math.floor(n * trimFraction + 1e-9);
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the trimCount lowest and highest
 * values and average the rest. With trimFraction < 0.5 at least one value always remains.
 */
export function trimmedMean(deltas: readonly Float32Array[], trimFraction: number): Float32Array {
  const d = checkUniformLength(deltas);
  const n = deltas.length;
  const k = trimCount(n, trimFraction);
  const kept = n - 2 * k;
  const out = new Float32Array(d);
  const column = new Float64Array(n);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < n; j++) column[j] = deltas[j]![i]!;
    column.sort();
    // Summed in ascending order: a fixed order, hence fixed rounding.
    let s = 0;
    for (let j = k; j < n - k; j++) s += column[j]!;
    out[i] = s / kept;
  }
  return out;
}

/** Squared Euclidean distance, accumulated in float64 in coordinate order. */
export function squaredDistance(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  if (b.length !== n) throw new StrategyError('SHAPE_MISMATCH', `vectors of ${n} and ${b.length} values`);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const t = a[i]! - b[i]!;
    s += t * t;
  }
  return s;
}

/**
 * Krum scores (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
 * Descent"): for each delta, the sum of squared distances to its n - f - 2 nearest other deltas.
 * Low scores sit inside a dense cluster; Krum's guarantee needs n > 2f + 2.
 */
export function krumScores(deltas: readonly Float32Array[], byzantine: number): Float64Array {
  checkUniformLength(deltas);
  const n = deltas.length;
  if (!Number.isInteger(byzantine) || byzantine < 0) throw new StrategyError('BAD_CONFIG', `byzantine must be a non-negative integer, got ${byzantine}`);
  if (n <= 2 * byzantine + 2) {
    throw new StrategyError('KRUM_TOO_FEW', `Krum with f = ${byzantine} needs more than ${2 * byzantine + 2} updates, got ${n}`);
  }
  // Each pair is computed once and mirrored, so d(i, j) and d(j, i) are the identical double.
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = squaredDistance(deltas[i]!, deltas[j]!);
      dist[i * n + j] = s;
      dist[j * n + i] = s;
    }
  }
  const neighbours = n - byzantine - 2;
  const scores = new Float64Array(n);
  const row = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[r++] = dist[i * n + j]!;
    row.sort();
    let s = 0;
    for (let j = 0; j < neighbours; j++) s += row[j]!;
    scores[i] = s;
  }
  return scores;
}

/**
 * Multi-Krum selection (Blanchard et al. 2017, section 4): indices of the `select` lowest Krum scores,
 * best first, ties broken by lower index. A NaN score ranks last, so the order stays total.
 */
export function multiKrumSelect(deltas: readonly Float32Array[], byzantine: number, select: number): number[] {
  const n = deltas.length;
  if (!Number.isInteger(select) || select < 1) throw new StrategyError('BAD_CONFIG', `select must be a positive integer, got ${select}`);
  // Checked before scoring so a hopeless call does not pay for the O(n^2 x model) distances first.
  if (select > n) throw new StrategyError('KRUM_TOO_FEW', `multi-Krum selects ${select} updates but only ${n} arrived`);
  const scores = krumScores(deltas, byzantine);
  const rank = (s: number) => (Number.isNaN(s) ? Infinity : s);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const sa = rank(scores[a]!);
    const sb = rank(scores[b]!);
    return sa < sb ? -1 : sa > sb ? 1 : a - b;
  });
  return order.slice(0, select);
}

export interface AdamHyperparameters {
  /** Server learning rate, eta. */
  serverLr: number;
  beta1: number;
  beta2: number;
  /** Adaptivity floor, tau: keeps the step bounded where v is near zero. */
  tau: number;
}

export interface AdamStepResult {
  weights: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/**
 * One FedAdam server step (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2):
 *   m = b1 m + (1 - b1) D;  v = b2 v + (1 - b2) D^2;  w = w + eta m / (sqrt(v) + tau)
 * where D is the pseudo-gradient (the mean client delta, which already points downhill, hence "+").
 * As in the paper there is no bias correction; tau plays the role of Adam's epsilon.
 * Returns new arrays; weights, pseudoGradient, m and v are left untouched.
 */
export function adamServerStep(
  weights: Float32Array,
  pseudoGradient: Float32Array,
  moments: { m: Float32Array; v: Float32Array },
  hp: AdamHyperparameters,
): AdamStepResult {
  const n = weights.length;
  for (const [name, t] of [['pseudo-gradient', pseudoGradient], ['m', moments.m], ['v', moments.v]] as const) {
    if (t.length !== n) throw new StrategyError('SHAPE_MISMATCH', `${name} has ${t.length} values, the model has ${n}`);
  }
  const { serverLr, beta1, beta2, tau } = hp;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const m0 = moments.m;
  const v0 = moments.v;
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = pseudoGradient[i]!;
    m[i] = beta1 * m0[i]! + c1 * g;
    v[i] = beta2 * v0[i]! + c2 * g * g;
    // Step from the float32 moments as stored, so the update is a function of exactly what the
    // checkpoint persists and an auditor reading m and v back reproduces it bit for bit.
    w[i] = weights[i]! + (serverLr * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return { weights: w, m, v };
}

/**
 * One FedYogi server step (Reddi et al. 2021, Algorithm 2, Yogi variant): as FedAdam but the second
 * moment moves additively, v = v - (1 - b2) D^2 sign(v - D^2), so it grows or shrinks by at most
 * (1 - b2) D^2 a round and a single large pseudo-gradient cannot make the step collapse or explode.
 * Returns new arrays; the inputs are left untouched.
 */
export function yogiServerStep(
  weights: Float32Array,
  pseudoGradient: Float32Array,
  moments: { m: Float32Array; v: Float32Array },
  hp: AdamHyperparameters,
): AdamStepResult {
  const n = weights.length;
  for (const [name, t] of [['pseudo-gradient', pseudoGradient], ['m', moments.m], ['v', moments.v]] as const) {
    if (t.length !== n) throw new StrategyError('SHAPE_MISMATCH', `${name} has ${t.length} values, the model has ${n}`);
  }
  const { serverLr, beta1, beta2, tau } = hp;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const m0 = moments.m;
  const v0 = moments.v;
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = pseudoGradient[i]!;
    const g2 = g * g;
    m[i] = beta1 * m0[i]! + c1 * g;
    const prev = v0[i]!;
    v[i] = prev - c2 * g2 * Math.sign(prev - g2);
    // As in FedAdam: the step reads the float32 moments as stored, so an auditor reproduces it.
    w[i] = weights[i]! + (serverLr * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return { weights: w, m, v };
}

export interface MomentumHyperparameters {
  /** Server learning rate, eta. */
  serverLr: number;
  /** Momentum, beta: the share of last round's velocity kept. */
  momentum: number;
}

/**
 * One FedAvgM server step (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data
 * Distribution"; the FedAvgM of Reddi et al. 2021): velocity u = beta u + D, w = w + eta u, where D is
 * the mean client delta. With beta = 0 and eta = 1 this is FedAvg exactly. Returns new arrays.
 */
export function momentumServerStep(
  weights: Float32Array,
  pseudoGradient: Float32Array,
  velocity: Float32Array,
  hp: MomentumHyperparameters,
): { weights: Float32Array; velocity: Float32Array } {
  const n = weights.length;
  for (const [name, t] of [['pseudo-gradient', pseudoGradient], ['velocity', velocity]] as const) {
    if (t.length !== n) throw new StrategyError('SHAPE_MISMATCH', `${name} has ${t.length} values, the model has ${n}`);
  }
  const { serverLr, momentum } = hp;
  const u = new Float32Array(n);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    u[i] = momentum * velocity[i]! + pseudoGradient[i]!;
    w[i] = weights[i]! + serverLr * u[i]!;
  }
  return { weights: w, velocity: u };
}

/** Common length of a non-empty list of deltas; throws if the list is empty or ragged. */
export function checkUniformLength(deltas: readonly Float32Array[]): number {
  const first = deltas[0];
  if (first === undefined) throw new StrategyError('NO_UPDATES', 'no deltas to aggregate');
  const n = first.length;
  for (let j = 1; j < deltas.length; j++) {
    const len = deltas[j]!.length;
    if (len !== n) throw new StrategyError('SHAPE_MISMATCH', `delta ${j} has ${len} values, delta 0 has ${n}`);
  }
  return n;
}
