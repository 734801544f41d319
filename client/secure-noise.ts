import type { SecureAggConfig } from '../protocol/secagg/config.ts';
import { zeroWords, type RingWords } from '../protocol/secagg/ring.ts';
import { secureRandomBytes } from '../protocol/secagg/fixed-point.ts';

/**
 * A client's share of the distributed DP noise, as ring words. Not built yet: secure.dp is refused
 * at task creation until the Skellam sampler lands (docs/secure-mode.md, "Not built yet").
 */
export function addSecureNoise(cfg: SecureAggConfig, _scale: number, _threshold: number, count: number): RingWords {
  void secureRandomBytes;
  throw new Error(`secure.dp (noise multiplier ${cfg.dp?.noiseMultiplier}) is not built yet; ${count} words`);
}
