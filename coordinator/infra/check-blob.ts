import { contentHash, decodeFloat32, firstNonFinite, l2Norm, type Hex32 } from '../../protocol/index.ts';

/** What the update worker needs to know about a delta's bytes. */
export interface BlobVerdict {
  hash: Hex32;
  /** L2 norm of the float32 values (NaN when the length is not a multiple of 4). */
  norm: number;
  /** Index of the first NaN/Inf value when the norm is not finite, else -1. */
  firstNonFinite: number;
}

/**
 * Hashes a delta and measures it in one place, whether it runs inline or on a checker thread.
 * The float64 sum of squares of finite float32 values cannot overflow at our model sizes, so the
 * norm is non-finite exactly when some value is; only then is the bad value looked for.
 */
export async function checkBlob(bytes: Uint8Array): Promise<BlobVerdict> {
  const hash = await contentHash(bytes);
  if (bytes.byteLength % 4 !== 0) return { hash, norm: NaN, firstNonFinite: -1 };
  const values = decodeFloat32(bytes);
  const norm = l2Norm(values);
  return { hash, norm, firstNonFinite: Number.isFinite(norm) ? -1 : firstNonFinite(values) };
}
