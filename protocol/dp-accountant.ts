/**
 * Privacy accounting of the Gaussian mechanism with Rényi differential privacy (RDP).
 *
 * Method: Mironov, "Rényi Differential Privacy", IEEE CSF 2017.
 *  - Gaussian mechanism with L2 sensitivity Δ and noise N(0, (zΔ)²) is (α, α / (2z²))-RDP for every
 *    α > 1 (Corollary 3);
 *  - RDP composes additively: T rounds give (α, T·α / (2z²)) (Proposition 1);
 *  - (α, ρ)-RDP implies (ρ + log(1/δ) / (α − 1), δ)-DP (Proposition 3); we take the best α of a fixed grid.
 * Every member takes part in every round here (no sampling), so there is no amplification by
 * subsampling: the figure is an upper bound for full participation. Pure maths, no state: the
 * coordinator records the result in each manifest and the auditor recomputes it.
 */

/** The orders α tried; a fixed list, so every party computes the same minimum. */
export const RDP_ORDERS: readonly number[] = [1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 48, 64, 96, 128, 256, 512, 1024];

/** RDP of order alpha of one Gaussian release with noise multiplier z (noise std / sensitivity). */
export function gaussianRdp(alpha: number, noiseMultiplier: number): number {
  return alpha / (2 * noiseMultiplier * noiseMultiplier);
}

/** (epsilon, delta)-DP after `rounds` Gaussian releases with noise multiplier z; the best order found. */
export function gaussianEpsilon(rounds: number, noiseMultiplier: number, delta: number): { epsilon: number; alpha: number } {
  if (!(rounds >= 0) || !(noiseMultiplier > 0) || !(delta > 0 && delta < 1)) {
    throw new RangeError(`gaussianEpsilon: need rounds >= 0, noiseMultiplier > 0, 0 < delta < 1 (got ${rounds}, ${noiseMultiplier}, ${delta})`);
  }
  let best = { epsilon: Infinity, alpha: NaN };
  for (const alpha of RDP_ORDERS) {
    const epsilon = rounds * gaussianRdp(alpha, noiseMultiplier) + Math.log(1 / delta) / (alpha - 1);
    if (epsilon < best.epsilon) best = { epsilon, alpha };
  }
  return best;
}

/** Epsilon as recorded in manifests: 6 decimals, so a verifier's float noise cannot flip a comparison. */
export const recordedEpsilon = (rounds: number, noiseMultiplier: number, delta: number): number =>
  Number(gaussianEpsilon(rounds, noiseMultiplier, delta).epsilon.toFixed(6));
