import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as snarkjs from 'snarkjs';
import { CIRCUITS_DIR } from './artefacts.ts';

const TEMPLATE = join(resolve(CIRCUITS_DIR, '..'), 'node_modules', 'snarkjs', 'templates', 'verifier_groth16.sol.ejs');

/**
 * The Solidity verifier of a Groth16 key, named `contract` and headed by `header` (a comment line).
 * Deterministic in the key: the build and the setup ceremony both use it, and the auditor regenerates
 * it from a verified key to compare with what is deployed.
 */
export async function solidityVerifier(zkey: string, contract: string, header: string): Promise<string> {
  const sol = String(await snarkjs.zKey.exportSolidityVerifier(zkey, { groth16: readFileSync(TEMPLATE, 'utf8') }));
  if (!sol.includes('contract Groth16Verifier')) throw new Error('snarkjs verifier template changed: contract Groth16Verifier not found');
  return `${header}\n${sol.replace('contract Groth16Verifier', `contract ${contract}`)}`;
}
