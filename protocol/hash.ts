import { createKeccak, type IHasher } from 'hash-wasm';

/**
 * keccak256 content hashing. hash-wasm is used instead of ethers' keccak because it is ~20x faster
 * on multi-megabyte deltas (measured: 246 MB/s vs 11 MB/s), and it is bit-identical.
 */
export type Hex32 = `0x${string}`;

let hasher: IHasher | undefined;

/** keccak256 of bytes (or of several chunks hashed as one stream), as 0x-prefixed lowercase hex. */
export async function contentHash(...chunks: Uint8Array[]): Promise<Hex32> {
  // A fresh hasher per call would re-instantiate the WASM module; one shared instance is safe
  // because init/update/digest run synchronously with no await in between.
  hasher ??= await createKeccak(256);
  hasher.init();
  for (const c of chunks) hasher.update(c);
  return `0x${hasher.digest('hex')}`;
}

export const HEX32_RE = /^0x[0-9a-f]{64}$/;
