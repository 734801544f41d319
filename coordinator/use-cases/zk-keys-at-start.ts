import { ceremonyKeySet, activeKeySet, type ZkKeySet } from '../../circuits/key-set.ts';
import { claimVerifierMatches } from '../../contracts/claim-verifier.ts';
import type { ChainClient } from '../chain/chain-client.ts';
import type { CoordinatorConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

/**
 * Start-up checks of the zero-knowledge keys, so that a wrong setting stops the coordinator at once
 * rather than failing the first private upload or claim:
 *
 * - FL_ZK_KEYS must name a finalized ceremony folder with both circuits' keys, each the transcript's.
 * - With a chain, the RewardDistributor's claim verifier must run the claim key of those keys; with
 *   ceremony keys (or NODE_ENV=production) a mismatch refuses to start, with development keys it is a
 *   warning (a test chain may have been deployed with another verifier on purpose).
 *
 * Throws an Error whose message names the setting and what to do.
 */
export async function checkZkKeysAtStart(config: CoordinatorConfig, chain: ChainClient | undefined, log: Logger): Promise<ZkKeySet> {
  let keys: ZkKeySet;
  try {
    keys = config.zkKeysDir ? ceremonyKeySet(config.zkKeysDir) : activeKeySet();
  } catch (e) {
    throw new Error(`FL_ZK_KEYS=${config.zkKeysDir}: ${(e as Error).message}`);
  }
  if (keys.kind === 'ceremony') log.info({ transcript: keys.transcriptHash, contributors: keys.contributors, dir: keys.dir }, 'zero-knowledge keys from a setup ceremony');
  if (!chain) return keys;
  const verifier = String(await chain.distributor.claimVerifier());
  const m = await claimVerifierMatches(chain.provider, verifier, keys);
  if (m.ok) return keys;
  if (keys.kind === 'ceremony' || config.production) throw new Error(m.detail);
  log.warn({ claimVerifier: verifier }, m.detail);
  return keys;
}
