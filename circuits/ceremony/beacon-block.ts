/**
 * A ceremony's beacon taken from a block hash: the operator announces a block number before the last
 * contribution, and once that block is mined its hash is the public random value no contributor
 * could have known. Anyone with an RPC node of the same chain re-checks the value afterwards.
 */
import { JsonRpcProvider, type Provider } from 'ethers';
import { CeremonyError, type Beacon } from './transcript.ts';

export interface BlockBeacon {
  value: string;
  source: string;
  block: { chainId: number; number: number };
}

/** The hash of block `number` on the chain at `rpcUrl`, waiting up to `waitMs` for it to be mined. */
export async function blockBeacon(rpcUrl: string, number: number, o: { waitMs?: number; pollMs?: number; log?: (line: string) => void } = {}): Promise<BlockBeacon> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const chainId = Number((await provider.getNetwork().catch((e: Error) => {
      throw new CeremonyError('BAD_BEACON', `the RPC node ${rpcUrl} did not answer: ${e.message}`);
    })).chainId);
    const deadline = Date.now() + (o.waitMs ?? 0);
    let said = false;
    for (;;) {
      const b = await provider.getBlock(number);
      if (b?.hash) return { value: b.hash.toLowerCase(), source: `hash of block ${number} on chain ${chainId}`, block: { chainId, number } };
      if (Date.now() >= deadline) throw new CeremonyError('BAD_BEACON', `block ${number} is not mined yet on chain ${chainId}: run finalize again once it is (or give --wait seconds)`);
      if (!said) o.log?.(`waiting for block ${number} on chain ${chainId}`);
      said = true;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
    }
  } finally {
    provider.destroy();
  }
}

export type BeaconBlockCheck = { checked: true; ok: boolean; detail: string } | { checked: false; detail: string };

/**
 * Whether a transcript's beacon is the hash of the block it names, on the chain `provider` reads
 * (checked only when the chain ids agree: the beacon may come from another chain than the one asked).
 */
export async function checkBeaconBlock(beacon: Beacon, provider: Provider): Promise<BeaconBlockCheck> {
  if (!beacon.block) return { checked: false, detail: `the beacon names no block (${beacon.source})` };
  const { chainId, number } = beacon.block;
  const here = Number((await provider.getNetwork()).chainId);
  if (here !== chainId) return { checked: false, detail: `the beacon is block ${number} of chain ${chainId}; this RPC node serves chain ${here}` };
  const b = await provider.getBlock(number);
  if (!b?.hash) return { checked: true, ok: false, detail: `block ${number} of chain ${chainId} does not exist on this node` };
  const ok = b.hash.toLowerCase() === beacon.value;
  return { checked: true, ok, detail: ok ? `the beacon is the hash of block ${number} on chain ${chainId}` : `the beacon ${beacon.value.slice(0, 12)}… is not the hash of block ${number} on chain ${chainId} (${b.hash.slice(0, 12)}…)` };
}
