/**
 * exp and log built from IEEE-754 double addition, multiplication and division only, so they give
 * the same bits on every machine and in every JavaScript engine. Math.exp and Math.log do not
 * promise that (the spec leaves their accuracy to the implementation), and contribution scores
 * must be recomputed bit for bit by any auditor (docs/contribution-scores.md).
 *
 * Accuracy is a few ulps, which is ample for a loss; sameness, not accuracy, is the point.
 */

// ln 2 split so that k * LN2_HI is exact for |k| < 2^20 (Cody and Waite's range reduction).
const LN2_HI = 0.693145751953125;
const LN2_LO = 1.4286068203094172321e-6;
const INV_LN2 = 1.4426950408889634;

/** 2^k for integer k in [-1074, 1023], exact: built by repeated doubling and halving. */
const POW2 = (() => {
  const t = new Float64Array(1023 + 1075);
  t[1074] = 1;
  for (let k = 1; k <= 1023; k++) t[1074 + k] = (t[1074 + k - 1] as number) * 2;
  for (let k = -1; k >= -1074; k--) t[1074 + k] = (t[1074 + k + 1] as number) / 2;
  return t;
})();
const pow2 = (k: number) => POW2[1074 + k] as number;

/** Round half away from zero, from comparisons and subtraction only. */
function roundInt(x: number): number {
  const t = Math.trunc(x); // exact by definition
  const f = x - t; // exact for |x| < 2^52
  return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
}

export function detExp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x > 709.7) return Infinity;
  if (x < -745) return 0;
  const k = roundInt(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO; // |r| <= ~0.347
  // Taylor series of e^r to r^14 / 14!, summed from the smallest term (Horner): error < 1e-17.
  let p = 1 / 87178291200;
  for (let n = 13; n >= 1; n--) p = p * r + INV_FACT[n]!;
  p = p * r + 1;
  // Split the scaling so a subnormal or near-overflow result is never an inexact 2^k.
  if (k > 1000) return p * pow2(1000) * pow2(k - 1000);
  if (k < -1000) return p * pow2(-1000) * pow2(k + 1000);
  return p * pow2(k);
}
const INV_FACT = (() => {
  const f = [1];
  for (let n = 1; n <= 14; n++) f.push((f[n - 1] as number) / n);
  return f;
})();

const SQRT_HALF = 0.7071067811865476;

export function detLog(x: number): number {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)): scaling by powers of two is exact.
  let e = 0;
  let m = x;
  while (m >= 2) {
    m /= 2;
    e++;
  }
  while (m < 1) {
    m *= 2;
    e--;
  }
  if (m > 2 * SQRT_HALF) {
    m /= 2;
    e++;
  }
  // log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716: the odd series to s^25 is exact to 1e-19.
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let p = 1 / 25;
  for (let n = 23; n >= 1; n -= 2) p = p * s2 + 1 / n;
  const logM = 2 * s * p;
  return e * LN2_HI + (e * LN2_LO + logM);
}

/**
 * Square root by Newton's method from a fixed start, after exact scaling into [1, 4): the same
 * bits everywhere (the language does not pin Math.sqrt's rounding down either). Accurate to ~1 ulp.
 */
export function detSqrt(x: number): number {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0 || x === Infinity) return x;
  let m = x;
  let half = 1; // sqrt(x) = sqrt(m) * half
  while (m >= 4) {
    m /= 4;
    half *= 2;
  }
  while (m < 1) {
    m *= 4;
    half /= 2;
  }
  let y = 0.5 + m / 3; // within 25 % of sqrt(m) on [1, 4)
  for (let i = 0; i < 6; i++) y = 0.5 * (y + m / y);
  return y * half;
}
