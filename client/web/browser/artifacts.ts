import { Contract, type ContractRunner, type InterfaceAbi } from 'ethers';
import abis from 'fl:contract-abis';
import type { CheckpointRegistry, RewardDistributor } from '../../../contracts/artifacts.ts';

/**
 * The page's stand-in for contracts/artifacts.ts: the same typed handles, from ABIs the coordinator
 * inlines into the bundle at build time (from the same contracts/out artefacts), since a page cannot
 * read files. The bundler swaps it in (coordinator/http/join-bundle.ts); the page only reads
 * contracts and claims, so it has no deploy().
 */
interface Typed {
  CheckpointRegistry: CheckpointRegistry;
  RewardDistributor: RewardDistributor;
}
export type ContractName = keyof Typed;
export type { CheckpointRegistry, RewardDistributor };

export function loadArtifact(name: ContractName): { contractName: string; abi: InterfaceAbi; bytecode: string } {
  const abi = (abis as Record<string, InterfaceAbi | undefined>)[name];
  if (!abi) throw new Error(`the page was bundled without the ${name} ABI`);
  return { contractName: name, abi, bytecode: '0x' };
}

export function attach<N extends ContractName>(name: N, address: string, runner: ContractRunner): Typed[N] {
  return new Contract(address, loadArtifact(name).abi, runner) as unknown as Typed[N];
}
