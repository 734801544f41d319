import {
  JsonRpcProvider,
  Network,
  NonceManager,
  Wallet,
  type Provider,
  type TransactionRequest,
  type TransactionResponse,
} from 'ethers';

/**
 * Providers and signers for the contracts. One rule for local chains: anvil mines each transaction
 * the moment it arrives, and ethers' default 250 ms result cache would hide the new block from a
 * receipt or block-number check made right after, so local providers cache nothing and poll fast.
 */

export interface ProviderOptions {
  /** Known chain id: skips ethers' network detection (one eth_chainId round trip per provider). */
  chainId?: number;
  /** Local chain (no result cache, 50 ms polling); by default, when the URL's host is a loopback address. */
  local?: boolean;
}

export function isLoopbackUrl(rpcUrl: string): boolean {
  try {
    const host = new URL(rpcUrl).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

export function rpcProvider(rpcUrl: string, opts: ProviderOptions = {}): JsonRpcProvider {
  const local = opts.local ?? isLoopbackUrl(rpcUrl);
  const network = opts.chainId === undefined ? undefined : Network.from(opts.chainId);
  return new JsonRpcProvider(rpcUrl, network, {
    staticNetwork: network ?? null,
    ...(local ? { cacheTimeout: -1, pollingInterval: 50 } : {}),
  });
}

/**
 * ethers' NonceManager counts a nonce as used before it estimates gas, so a transaction that reverts
 * in estimation (or is refused by the node) leaves a gap: every later transaction waits forever behind
 * the missing nonce (anvil keeps it queued, unmined). This one re-reads the nonce from the node after
 * any failed send. Concurrent sends stay safe as long as none of them fails; a writer that may see
 * failures should send one transaction at a time.
 */
export class ResettingNonceManager extends NonceManager {
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    try {
      return await super.sendTransaction(tx);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  override connect(provider: null | Provider): ResettingNonceManager {
    return new ResettingNonceManager(this.signer.connect(provider));
  }
}

/** A wallet behind a (resetting) NonceManager, so transactions can be sent without waiting for each to be mined. */
export function managedSigner(privateKey: string, provider: JsonRpcProvider): ResettingNonceManager {
  return new ResettingNonceManager(new Wallet(privateKey, provider));
}
