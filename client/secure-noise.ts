import type { SecureAggConfig } from '../protocol/secagg/config.ts';
import { secureNoisePerClient } from '../protocol/secagg/dp.ts';
import { secureRandomBytes } from '../protocol/secagg/fixed-point.ts';
import { zeroWords, type RingWords } from '../protocol/secagg/ring.ts';
import { sampleSkellam } from '../protocol/secagg/skellam.ts';

/**
 * A client's share of the distributed DP noise, as ring words to add to its quantised delta before
 * masking: Sk(mu, mu) per coordinate from the client's own CSPRNG, mu sized so that `minSurvivors`
 * survivors together carry the task's noise (protocol/secagg/dp.ts). No one else ever learns it,
 * so no one can subtract it.
 */
export function addSecureNoise(cfg: SecureAggConfig, scale: number, minSurvivors: number, count: number): RingWords {
  const mu = secureNoisePerClient(cfg, scale, minSurvivors);
  const noise = sampleSkellam(mu, count, secureRandomBytes);
  const out = zeroWords(cfg.bits, count);
  // The typed array wraps negative samples to their two's complement, which is the ring's -x.
  for (let i = 0; i < count; i++) out[i] = noise[i] as number;
  return out;
}
