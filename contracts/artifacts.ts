import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, ContractFactory, type ContractRunner, type InterfaceAbi, type Signer } from 'ethers';
import { z } from 'zod';
import { OUT_DIR } from './paths.ts';
import type {
  CheckpointRegistry,
  CheckpointRegistry__factory,
  ClaimVerifier,
  ClaimVerifier__factory,
  RewardDistributor,
  RewardDistributor__factory,
  RewardToken,
  RewardToken__factory,
} from './out/types/index.ts';

/**
 * Typed contract objects from the build's JSON artefacts. At run time only contracts/out/<Name>.json
 * is read (so a clean clone can build and then import this module in the same process); the types
 * come from typechain's bindings, which `import type` erases.
 */
export type { CheckpointRegistry, ClaimVerifier, RewardDistributor, RewardToken };

/** Deployable contracts and the typed object each one becomes. */
interface Typed {
  CheckpointRegistry: CheckpointRegistry;
  ClaimVerifier: ClaimVerifier;
  RewardDistributor: RewardDistributor;
  RewardToken: RewardToken;
}
export type ContractName = keyof Typed;

/** Constructor arguments of each contract, as typechain's factories declare them. */
interface DeployArgs {
  CheckpointRegistry: Parameters<CheckpointRegistry__factory['deploy']>;
  ClaimVerifier: Parameters<ClaimVerifier__factory['deploy']>;
  RewardDistributor: Parameters<RewardDistributor__factory['deploy']>;
  RewardToken: Parameters<RewardToken__factory['deploy']>;
}

const Artifact = z.object({
  contractName: z.string(),
  abi: z.array(z.record(z.string(), z.unknown())),
  bytecode: z.string().regex(/^0x([0-9a-f]{2})*$/),
});
export interface Artifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
}

/** The compiled artefact of `name`; run the build first (`npm run build:contracts` or buildContracts()). */
export function loadArtifact(name: ContractName): Artifact {
  const file = join(OUT_DIR, `${name}.json`);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file} is missing: build the contracts first (npm run build:contracts)`);
  }
  const parsed = Artifact.parse(JSON.parse(raw));
  return { contractName: parsed.contractName, abi: parsed.abi as InterfaceAbi, bytecode: parsed.bytecode };
}

/** A typed handle on the deployed contract `name` at `address`. */
export function attach<N extends ContractName>(name: N, address: string, runner: ContractRunner): Typed[N] {
  return new Contract(address, loadArtifact(name).abi, runner) as unknown as Typed[N];
}

/**
 * Sends the deployment of `name` with constructor `args` and returns the typed contract at once (its
 * address is known from the sender's nonce); await `waitForDeployment()` before calling it.
 */
export async function deploy<N extends ContractName>(name: N, signer: Signer, ...args: DeployArgs[N]): Promise<Typed[N]> {
  const { abi, bytecode } = loadArtifact(name);
  return (await new ContractFactory(abi, bytecode, signer).deploy(...args)) as unknown as Typed[N];
}

/** The runtime bytecode of `name` as built (what `eth_getCode` returns for a deployment of it). */
export function deployedBytecode(name: ContractName): string {
  const file = join(OUT_DIR, `${name}.json`);
  return z.object({ deployedBytecode: z.string().regex(/^0x([0-9a-f]{2})*$/) }).parse(JSON.parse(readFileSync(file, 'utf8'))).deployedBytecode;
}
