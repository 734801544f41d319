import { RDP_ORDERS } from '../dp-accountant.ts';

/**
 * Privacy accounting of secure mode's distributed Skellam mechanism, with Rényi DP (RDP).
 *
 * What is released each round: the unmasked sum, over the surviving clients, of integer vectors
 * (each client's delta clipped to L2 norm clipNorm, multiplied by the fixed-point scale and
 * stochastically rounded) plus every survivor's Sk(mu, mu) noise, i.e. Sk(muTotal, muTotal) noise
 * per coordinate, variance 2·muTotal. The neighbouring relation is one client in or out.
 *
 * 1. Sensitivity (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for
 *    Federated Learning with Secure Aggregation", ICML 2021, Theorem 1 of arXiv:2102.06387): for x of L2 norm
 *    at most c (already scaled) in d dimensions, unbiased rounding to the integer grid moves each
 *    coordinate by less than 1, so ‖x̃‖ <= c + √d always, and with probability >= 1 - β,
 *      ‖x̃‖² <= c² + d/4 + √(2·log(1/β))·(c + √d/2).
 *    Clients re-round until the second bound holds, so it holds always and β costs no privacy
 *    (only a slight bias). Integer vectors also have ‖x̃‖₁ <= ‖x̃‖₂² (every non-zero |x̃ᵢ| >= 1)
 *    and ‖x̃‖₁ <= √d·‖x̃‖₂: hence l1FromL2.
 *
 * 2. RDP of one release (Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private
 *    Federated Learning", NeurIPS 2021, Theorem 3.5 of arXiv:2110.04995v2, the multi-dimensional
 *    Skellam mechanism; some versions number it Corollary 4.1). The paper writes the noise as
 *    Sk(μ/2, μ/2), μ its variance; for an integer query with sensitivities Δ₁, Δ₂ and integer α > 1,
 *      ε(α) <= α·Δ₂²/(2μ) + min( ((2α - 1)·Δ₂² + 6·Δ₁) / (4μ²), 3·Δ₁/(2μ) ).
 *    Here μ = 2·muTotal (our Sk(muTotal, muTotal) has variance 2·muTotal), which gives
 *      ε(α) <= α·Δ₂²/(4·muTotal) + min( ((2α - 1)·Δ₂² + 6·Δ₁) / (16·muTotal²), 3·Δ₁/(4·muTotal) ).
 *    The first term is the Gaussian mechanism's α·Δ₂²/(2σ²) at the same variance σ² = 2·muTotal;
 *    the min is the price of discreteness and fades like 1/muTotal.
 *
 * 3. Composition and conversion as in protocol/dp-accountant.ts (Mironov, "Rényi Differential
 *    Privacy", CSF 2017): T rounds add up to T·ε(α); (α, ρ)-RDP gives (ρ + log(1/δ)/(α - 1), δ)-DP;
 *    the best α of the same fixed grid RDP_ORDERS, so coordinator and auditor get the same figure.
 *
 * Assumptions: every client's delta is clipped to clipNorm before scaling; every selected client
 * takes part in every round (no sampling, so no amplification by subsampling: the figure is an
 * upper bound for full participation); and muTotal counts only minSurvivors clients' noise, the
 * worst case of the round finishing at its dropout threshold, since more survivors only add noise.
 * The sampler is exact (protocol/secagg/skellam.ts). Clients colluding with the observer can
 * subtract their own noise: the figure holds against an observer who knows none of the noise
 * counted in muTotal.
 */

/**
 * The L2 norm a client's rounded vector never exceeds (DDG, Theorem 1): the smaller of the
 * deterministic c + √d and the conditional bound for failure probability beta, which clients
 * enforce by re-rounding. beta = 0 means no conditioning: only c + √d.
 */
export function roundedL2Bound(scaledClip: number, dim: number, beta: number): number {
  if (!Number.isFinite(scaledClip) || scaledClip < 0) throw new RangeError(`roundedL2Bound: scaledClip must be finite and >= 0 (got ${scaledClip})`);
  if (!Number.isSafeInteger(dim) || dim < 1) throw new RangeError(`roundedL2Bound: dim must be a positive integer (got ${dim})`);
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`roundedL2Bound: beta must be in [0, 1) (got ${beta})`);
  const always = scaledClip + Math.sqrt(dim);
  if (beta === 0) return always;
  const conditional = Math.sqrt(scaledClip * scaledClip + dim / 4 + Math.sqrt(2 * Math.log(1 / beta)) * (scaledClip + Math.sqrt(dim) / 2));
  return Math.min(always, conditional);
}

/** L1 sensitivity of an integer vector of L2 norm at most l2 in dim dimensions: min(l2², √dim·l2). */
export function l1FromL2(l2: number, dim: number): number {
  if (!Number.isFinite(l2) || l2 < 0) throw new RangeError(`l1FromL2: l2 must be finite and >= 0 (got ${l2})`);
  if (!Number.isSafeInteger(dim) || dim < 1) throw new RangeError(`l1FromL2: dim must be a positive integer (got ${dim})`);
  return Math.min(l2 * l2, Math.sqrt(dim) * l2);
}

function checkSensitivities(what: string, l1: number, l2: number, muTotal: number): void {
  if (!Number.isFinite(l1) || l1 < 0) throw new RangeError(`${what}: l1 must be finite and >= 0 (got ${l1})`);
  if (!Number.isFinite(l2) || l2 < 0) throw new RangeError(`${what}: l2 must be finite and >= 0 (got ${l2})`);
  if (!Number.isFinite(muTotal) || muTotal <= 0) throw new RangeError(`${what}: muTotal must be finite and > 0 (got ${muTotal})`);
}

/**
 * RDP of order alpha of one release with Sk(muTotal, muTotal) noise per coordinate (Agarwal et al.,
 * Theorem 3.5, with the paper's variance μ = 2·muTotal). The theorem is proved for integer orders;
 * a fractional alpha is charged at ⌈alpha⌉, which is sound because Rényi divergence never
 * decreases with the order.
 */
export function skellamRdp(alpha: number, l1: number, l2: number, muTotal: number): number {
  if (!Number.isFinite(alpha) || !(alpha > 1)) throw new RangeError(`skellamRdp: alpha must be finite and > 1 (got ${alpha})`);
  checkSensitivities('skellamRdp', l1, l2, muTotal);
  const a = Math.ceil(alpha);
  const l2sq = l2 * l2;
  const gaussianPart = (a * l2sq) / (4 * muTotal);
  const discreteness = Math.min(((2 * a - 1) * l2sq + 6 * l1) / (16 * muTotal * muTotal), (3 * l1) / (4 * muTotal));
  return gaussianPart + discreteness;
}

/**
 * (epsilon, delta)-DP after `rounds` secure rounds, each releasing a sum with sensitivities l1, l2
 * (integer domain, see roundedL2Bound and l1FromL2) and Sk(muTotal, muTotal) noise; the best
 * order of RDP_ORDERS.
 */
export function secureEpsilon(opts: { rounds: number; l2: number; l1: number; muTotal: number; delta: number }): { epsilon: number; alpha: number } {
  const { rounds, l2, l1, muTotal, delta } = opts;
  if (!Number.isFinite(rounds) || rounds < 0) throw new RangeError(`secureEpsilon: rounds must be finite and >= 0 (got ${rounds})`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`secureEpsilon: need 0 < delta < 1 (got ${delta})`);
  checkSensitivities('secureEpsilon', l1, l2, muTotal);
  let best = { epsilon: Infinity, alpha: NaN };
  for (const alpha of RDP_ORDERS) {
    const epsilon = rounds * skellamRdp(alpha, l1, l2, muTotal) + Math.log(1 / delta) / (alpha - 1);
    if (epsilon < best.epsilon) best = { epsilon, alpha };
  }
  return best;
}

/** Epsilon as recorded in manifests: 6 decimals, like recordedEpsilon, so float noise cannot flip a comparison. */
export const recordedSecureEpsilon = (opts: { rounds: number; l2: number; l1: number; muTotal: number; delta: number }): number =>
  Number(secureEpsilon(opts).epsilon.toFixed(6));
