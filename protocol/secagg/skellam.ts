import type { RandomBytes } from './fixed-point.ts';

/**
 * Skellam noise for distributed differential privacy in secure mode.
 *
 * Each client adds integer noise Sk(mu, mu) = Poisson(mu) - Poisson(mu) (mean 0, variance 2·mu) to
 * its quantised delta before masking. A sum of independent Skellams is again Skellam with the mus
 * added, so the unmasked sum carries exactly Sk(n·mu, n·mu) and no one ever sees a client's own
 * noise. Integers are what the ring holds, so there is no rounding of the noise and no float
 * representation to attack (the weakness of a naive continuous Gaussian).
 *
 * The randomness comes only from the `randomBytes` source: the client's CSPRNG in production,
 * a seeded source in tests. Bytes are pulled in 64 KiB blocks (the getRandomValues cap) and read
 * as 53-bit uniforms, so a model of millions of coordinates costs a few hundred source calls.
 *
 * Poisson sampling: inversion of the cdf for mu < 10 (expected mu + 1 steps, one uniform), and
 * Hörmann's PTRS, "The transformed rejection method for generating Poisson random variables"
 * (Insurance: Mathematics and Economics 12, 1993), for mu >= 10: about 1.15 pairs of uniforms per
 * sample, most accepted by the cheap squeeze without any logarithm. Both are exact samplers (up to
 * float64 arithmetic), which the accountant in skellam-accountant.ts assumes.
 */

/** Largest mu accepted: beyond it k·log(mu) and the Stirling terms lose the precision PTRS needs. */
export const MAX_SKELLAM_MU = 1e12;

/** Below this mean, cdf inversion is cheaper than PTRS (whose constants are fitted for mu >= 10). */
const PTRS_FROM = 10;

/** Bytes asked of the source per call: the most one getRandomValues call may fill. */
const BLOCK_BYTES = 1 << 16;

const TWO_POW_MINUS_53 = 2 ** -53;

/** A stream of uniform doubles in (0, 1), 53 random bits each, drawn from the source in blocks. */
class Uniforms {
  private words: Uint32Array = new Uint32Array(0);
  private at = 0;
  constructor(private readonly source: RandomBytes) {}

  next(): number {
    for (;;) {
      if (this.at >= this.words.length) this.refill();
      const hi = (this.words[this.at] as number) >>> 5;
      const lo = (this.words[this.at + 1] as number) >>> 6;
      this.at += 2;
      const u = (hi * 67108864 + lo) * TWO_POW_MINUS_53;
      // 0 has probability 2^-53; skipping it keeps every log and ratio below finite.
      if (u > 0) return u;
    }
  }

  private refill(): void {
    let bytes = this.source(BLOCK_BYTES);
    if (bytes.byteLength < BLOCK_BYTES) throw new RangeError(`random source returned ${bytes.byteLength} of ${BLOCK_BYTES} bytes`);
    // A Uint32Array view needs 4-byte alignment; copy the rare unaligned block. Host byte order is
    // fine: the bits are uniform either way and no one needs to reproduce a client's noise.
    if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice(0, BLOCK_BYTES);
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, BLOCK_BYTES / 4);
    this.at = 0;
  }
}

/** log(k!) exactly (to float64) for small k, where Stirling's series is not yet accurate enough. */
const LOG_FACTORIAL_TABLE = (() => {
  const t = new Float64Array(256);
  for (let k = 2; k < t.length; k++) t[k] = (t[k - 1] as number) + Math.log(k);
  return t;
})();

/**
 * log of the Poisson(mu) pmf at integer k >= 0. For large k it is written around k = mu,
 *   (k - mu) - k·log1p((k - mu)/mu) - ½·log(2πk) - stirlingTail(k),
 * so that no terms of size mu·log(mu) cancel: at mu = 1e7 the naive -mu + k·log(mu) - log(k!)
 * would lose eight digits of the acceptance test.
 */
function logPoissonPmf(k: number, mu: number, logMu: number): number {
  if (k < LOG_FACTORIAL_TABLE.length) return -mu + k * logMu - (LOG_FACTORIAL_TABLE[k] as number);
  const inv = 1 / k;
  const inv2 = inv * inv;
  // log k! = k·log k - k + ½·log(2πk) + 1/(12k) - 1/(360k³) + 1/(1260k⁵) - ...; for k >= 256 the
  // first omitted term is below 1e-20.
  const tail = inv * (1 / 12 - inv2 * (1 / 360 - inv2 / 1260));
  return k - mu - k * Math.log1p((k - mu) / mu) - 0.5 * Math.log(2 * Math.PI * k) - tail;
}

/** Poisson(mu) by inversion of the cdf: one uniform, walking up the pmf. For 0 < mu < PTRS_FROM. */
function poissonByInversion(mu: number): (u: Uniforms) => number {
  const p0 = Math.exp(-mu);
  return (u) => {
    for (;;) {
      const x = u.next();
      let k = 0;
      let p = p0;
      let cdf = p0;
      // p reaches 0 only if rounding left the summed cdf just short of x near 1; draw again then
      // rather than return a wrong tail value.
      while (x > cdf && p > 0) {
        k += 1;
        p *= mu / k;
        cdf += p;
      }
      if (x <= cdf) return k;
    }
  };
}

/**
 * Poisson(mu) by Hörmann's PTRS for mu >= PTRS_FROM: a transformed-rejection proposal
 * k = floor((2a/us + b)·U + mu + 0.43) from U uniform on (-½, ½), with us = ½ - |U|; a box
 * (us >= 0.07, V <= vr) inside the acceptance region accepts most proposals without evaluating
 * the pmf, the region us < 0.013, V > us is known to lie outside it, and the rest is decided by
 * comparing log(V·invAlpha / (a/us² + b)) with the log pmf. Constants are the paper's.
 */
function poissonByPtrs(mu: number): (u: Uniforms) => number {
  const logMu = Math.log(mu);
  const b = 0.931 + 2.53 * Math.sqrt(mu);
  const a = -0.059 + 0.02483 * b;
  const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  return (u) => {
    for (;;) {
      const U = u.next() - 0.5;
      const V = u.next();
      const us = 0.5 - Math.abs(U);
      const k = Math.floor((2 * a / us + b) * U + mu + 0.43);
      if (us >= 0.07 && V <= vr) return k;
      if (k < 0 || (us < 0.013 && V > us)) continue;
      if (Math.log(V) + logInvAlpha - Math.log(a / (us * us) + b) <= logPoissonPmf(k, mu, logMu)) return k;
    }
  };
}

function checkMu(mu: number, what: string): void {
  if (!Number.isFinite(mu) || mu < 0 || mu > MAX_SKELLAM_MU) {
    throw new RangeError(`${what}: mu must be finite and in [0, ${MAX_SKELLAM_MU}] (got ${mu})`);
  }
}

function checkCount(count: number, what: string): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`${what}: count must be a non-negative integer (got ${count})`);
}

function poissonSampler(mu: number): (u: Uniforms) => number {
  return mu < PTRS_FROM ? poissonByInversion(mu) : poissonByPtrs(mu);
}

/** `count` independent Poisson(mu) samples (floats holding integers; mu may reach 1e12). */
export function samplePoisson(mu: number, count: number, randomBytes: RandomBytes): Float64Array {
  checkMu(mu, 'samplePoisson');
  checkCount(count, 'samplePoisson');
  const out = new Float64Array(count);
  if (mu === 0 || count === 0) return out;
  const u = new Uniforms(randomBytes);
  const draw = poissonSampler(mu);
  for (let i = 0; i < count; i++) out[i] = draw(u);
  return out;
}

/**
 * `count` independent samples of the symmetric Skellam distribution Sk(mu, mu), variance 2·mu.
 * The difference fits an Int32Array for every allowed mu: at mu = 1e12 its standard deviation is
 * about 1.4e6, and 2^31 is over a thousand of those away.
 */
export function sampleSkellam(mu: number, count: number, randomBytes: RandomBytes): Int32Array {
  checkMu(mu, 'sampleSkellam');
  checkCount(count, 'sampleSkellam');
  const out = new Int32Array(count);
  if (mu === 0 || count === 0) return out;
  const u = new Uniforms(randomBytes);
  const draw = poissonSampler(mu);
  for (let i = 0; i < count; i++) out[i] = draw(u) - draw(u);
  return out;
}

/**
 * The per-client mu for a sum of standard deviation sigmaTotal (in the integer, scaled domain)
 * over minSurvivors clients: sigmaTotal² = 2·mu·minSurvivors. Noise is sized for the fewest
 * clients the round may finish with, because a dropped client's noise never reaches the sum;
 * every extra survivor only adds noise.
 */
export function skellamMuPerClient(opts: { sigmaTotal: number; minSurvivors: number }): number {
  const { sigmaTotal, minSurvivors } = opts;
  if (!Number.isFinite(sigmaTotal) || sigmaTotal < 0) throw new RangeError(`skellamMuPerClient: sigmaTotal must be finite and >= 0 (got ${sigmaTotal})`);
  if (!Number.isSafeInteger(minSurvivors) || minSurvivors < 1) {
    throw new RangeError(`skellamMuPerClient: minSurvivors must be a positive integer (got ${minSurvivors})`);
  }
  const mu = (sigmaTotal * sigmaTotal) / (2 * minSurvivors);
  checkMu(mu, 'skellamMuPerClient');
  return mu;
}
