import { z } from 'zod';
import { startAnvil, type Anvil } from '../../contracts/anvil.ts';
import { buildContracts } from '../../contracts/build.ts';
import { deployContracts } from '../../contracts/deploy.ts';
import { managedSigner, rpcProvider } from '../../contracts/provider.ts';
import type { Logger } from '../logger.ts';
import { connectChain, type ChainClient } from './chain-client.ts';

const ChainEnv = z.object({
  /** 'off' runs the coordinator without a chain (rounds stop at 'aggregated'). */
  CHAIN: z.enum(['on', 'off']).default('on'),
  RPC_URL: z.string().url().optional(),
  PRIVATE_KEY: z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, 'a 32-byte hex private key').optional(),
  REGISTRY_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed address').optional(),
  /** Block the registry was deployed in (where event readers start); 0 scans from genesis. */
  REGISTRY_FROM_BLOCK: z.coerce.number().int().nonnegative().default(0),
});

export interface ChainHandle {
  client: ChainClient;
  /** True when this process started its own anvil with fresh deployments. */
  private: boolean;
  stop(): Promise<void>;
}

/**
 * The chain the coordinator commits to: RPC_URL + PRIVATE_KEY + REGISTRY_ADDRESS when given (any EVM
 * chain), else a private anvil (`given`, or one it starts) with freshly built and deployed contracts,
 * stopped by stop().
 * Returns null with CHAIN=off.
 */
export async function setupChain(env: NodeJS.ProcessEnv, log: Logger, given?: { anvil: Anvil }): Promise<ChainHandle | null> {
  const r = ChainEnv.safeParse(env);
  if (!r.success) throw new Error(`invalid environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const e = r.data;
  if (e.CHAIN === 'off') return null;
  if (e.RPC_URL) {
    if (!e.PRIVATE_KEY || !e.REGISTRY_ADDRESS) throw new Error('with RPC_URL, set PRIVATE_KEY and REGISTRY_ADDRESS too (deploy with: npm run deploy -- --rpc URL)');
    const client = await connectChain({ rpcUrl: e.RPC_URL, privateKey: e.PRIVATE_KEY, registry: e.REGISTRY_ADDRESS, fromBlock: e.REGISTRY_FROM_BLOCK });
    return { client, private: false, stop: async () => client.close() };
  }
  await buildContracts({ quiet: true });
  // A private anvil the caller started already (the demo's ceremony takes its beacon from it), or a new one.
  const anvil = given?.anvil ?? (await startAnvil());
  try {
    const key = anvil.privateKeys[0]!;
    const provider = rpcProvider(anvil.rpcUrl);
    const d = await deployContracts(managedSigner(key, provider));
    provider.destroy();
    const client = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: key, registry: d.addresses.registry, fromBlock: d.blockNumber });
    log.warn({ rpcUrl: anvil.rpcUrl, ...d.addresses }, 'no RPC_URL given: started a private anvil with fresh contracts (its chain is lost on exit)');
    return {
      client,
      private: true,
      async stop() {
        client.close();
        await anvil.stop();
      },
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}
