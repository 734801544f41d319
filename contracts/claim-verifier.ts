/**
 * The claim verifier contract that goes with a set of zero-knowledge keys: the build's development
 * verifier, or the one `fl-ceremony finalize` compiled from a ceremony's final claim key
 * (keys/ClaimVerifier.json). `npm run deploy` deploys it; the coordinator compares it with the
 * verifier its distributor calls before it serves private tasks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InterfaceAbi, Provider } from 'ethers';
import { z } from 'zod';
import { keysDir } from '../circuits/ceremony/ceremony.ts';
import type { ZkKeySet } from '../circuits/key-set.ts';
import { deployedBytecode, loadArtifact } from './artifacts.ts';

export interface VerifierArtifact {
  abi: InterfaceAbi;
  bytecode: string;
  /** What eth_getCode answers for a deployment of it. */
  deployedBytecode: string;
}

const Compiled = z.object({
  abi: z.array(z.record(z.string(), z.unknown())),
  bytecode: z.string().regex(/^0x([0-9a-f]{2})+$/),
  deployedBytecode: z.string().regex(/^0x([0-9a-f]{2})+$/),
});

export function claimVerifierArtifact(keys: ZkKeySet): VerifierArtifact {
  if (keys.kind === 'development') {
    const a = loadArtifact('ClaimVerifier');
    return { abi: a.abi, bytecode: a.bytecode, deployedBytecode: deployedBytecode('ClaimVerifier') };
  }
  const file = join(keysDir(keys.dir!), 'ClaimVerifier.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} cannot be read (${(e as Error).message}): finalize the ceremony with fl-ceremony finalize, or fetch it with fl-ceremony fetch`);
  }
  const r = Compiled.safeParse(raw);
  if (!r.success) throw new Error(`${file} is not a compiled verifier: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return { abi: r.data.abi as InterfaceAbi, bytecode: r.data.bytecode, deployedBytecode: r.data.deployedBytecode };
}

/**
 * Whether the contract at `address` runs exactly the verifier of `keys`. A distributor whose verifier
 * belongs to other keys would reject every private claim the members make with these keys.
 */
export async function claimVerifierMatches(provider: Provider, address: string, keys: ZkKeySet): Promise<{ ok: boolean; detail: string }> {
  const code = (await provider.getCode(address)).toLowerCase();
  const want = claimVerifierArtifact(keys).deployedBytecode.toLowerCase();
  const which = keys.kind === 'development' ? 'the development keys' : `the ceremony in ${keys.dir}`;
  if (code === want) return { ok: true, detail: `claim verifier ${address} runs the claim key of ${which}` };
  return {
    ok: false,
    detail: `the RewardDistributor's claim verifier ${address} does not run the claim key of ${which}: private claims would fail; deploy contracts for these keys (npm run deploy -- --zk-keys DIR) or set FL_ZK_KEYS to the ceremony they were deployed for`,
  };
}
