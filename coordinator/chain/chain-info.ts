import type { ChainClient } from './chain-client.ts';

/** What clients and auditors need to find the chain side of this coordinator (GET /v1/chain). */
export interface ChainInfo {
  chainId: number;
  /** An RPC URL readers may use (PUBLIC_RPC_URL, else the coordinator's own). */
  rpcUrl: string;
  registry: string;
  distributor: string;
  token: string;
  fromBlock: number;
}

export function chainInfo(chain: ChainClient, publicRpcUrl = process.env.PUBLIC_RPC_URL): ChainInfo {
  return { chainId: chain.chainId, rpcUrl: publicRpcUrl ?? chain.settings.rpcUrl, ...chain.addresses, fromBlock: chain.settings.fromBlock };
}
