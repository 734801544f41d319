import type { SecureAggConfig } from './config.ts';
import { l1FromL2, recordedSecureEpsilon, roundedL2Bound } from './skellam-accountant.ts';
import { skellamMuPerClient } from './skellam.ts';

/**
 * The numbers of secure mode's distributed DP, derived from the task alone so that clients, the
 * coordinator's manifest and the auditor agree on them:
 *   sigma     = noiseMultiplier * clipNorm * scale, the noise std of the sum in integer units;
 *   muTotal   = sigma^2 / 2: the Skellam parameter the sum carries when only the round's fewest
 *               allowed survivors remain (config.ts secureRoundThresholds(...).survivors, m; each
 *               adds Sk(muClient, muClient), muClient = sigma^2 / (2 * m));
 *               more survivors only add noise, so this is the guaranteed amount, the same every round;
 *   l2Bound   = the DDG bound on a rounded client vector (clients re-round until it holds);
 *   l1        = l1FromL2(l2Bound, dim).
 */
export const ROUNDING_BETA = Math.exp(-0.5);

export function secureDpParams(cfg: SecureAggConfig, scale: number, dim: number): { sigma: number; muTotal: number; l2Bound: number; l1: number; delta: number } | null {
  if (!cfg.dp) return null;
  const sigma = cfg.dp.noiseMultiplier * cfg.clipNorm * scale;
  const l2Bound = roundedL2Bound(cfg.clipNorm * scale, dim, ROUNDING_BETA);
  return { sigma, muTotal: (sigma * sigma) / 2, l2Bound, l1: l1FromL2(l2Bound, dim), delta: cfg.dp.delta };
}

/** Each client's Skellam parameter in a round that closes with at least `minSurvivors` uploads. */
export function secureNoisePerClient(cfg: SecureAggConfig, scale: number, minSurvivors: number): number {
  if (!cfg.dp) return 0;
  const sigma = cfg.dp.noiseMultiplier * cfg.clipNorm * scale;
  return skellamMuPerClient({ sigmaTotal: sigma, minSurvivors });
}

/** Client-level epsilon after `rounds` rounds, as manifests record it (null without DP). */
export function secureRoundsEpsilon(cfg: SecureAggConfig, scale: number, dim: number, rounds: number): number | null {
  const p = secureDpParams(cfg, scale, dim);
  if (!p) return null;
  return recordedSecureEpsilon({ rounds, l2: p.l2Bound, l1: p.l1, muTotal: p.muTotal, delta: p.delta });
}
