import type { JsonRpcProvider } from 'ethers';
import { attach, type CheckpointRegistry, type RewardDistributor, type RewardToken } from '../../contracts/artifacts.ts';
import { managedSigner, rpcProvider, type ResettingNonceManager } from '../../contracts/provider.ts';

export interface ChainSettings {
  rpcUrl: string;
  privateKey: string;
  registry: string;
  /** Block the registry was deployed in: where readers of its events start. */
  fromBlock: number;
}

/** The coordinator's handle on the chain: a provider for reading, one nonce-managed signer for writing. */
export interface ChainClient {
  settings: ChainSettings;
  provider: JsonRpcProvider;
  signer: ResettingNonceManager;
  registry: CheckpointRegistry;
  distributor: RewardDistributor;
  token: RewardToken;
  addresses: { registry: string; distributor: string; token: string };
  chainId: number;
  close(): void;
}

/** Connects to the registry at settings.registry and finds its distributor and token from it. */
export async function connectChain(settings: ChainSettings): Promise<ChainClient> {
  const provider = rpcProvider(settings.rpcUrl);
  const signer = managedSigner(settings.privateKey, provider);
  const chainId = Number((await provider.getNetwork()).chainId);
  if ((await provider.getCode(settings.registry)) === '0x') throw new Error(`no contract at REGISTRY_ADDRESS ${settings.registry} on ${settings.rpcUrl}`);
  const registry = attach('CheckpointRegistry', settings.registry, signer);
  const distributorAddress = await registry.distributor();
  const distributor = attach('RewardDistributor', distributorAddress, signer);
  const tokenAddress = await distributor.token();
  const token = attach('RewardToken', tokenAddress, signer);
  return {
    settings,
    provider,
    signer,
    registry,
    distributor,
    token,
    addresses: { registry: settings.registry.toLowerCase(), distributor: distributorAddress.toLowerCase(), token: tokenAddress.toLowerCase() },
    chainId,
    close: () => provider.destroy(),
  };
}
