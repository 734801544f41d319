import { z } from 'zod';
import { contentHash, decodeFloat32, firstNonFinite, Hash32, l2Norm, type Hex32 } from '../../protocol/index.ts';

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

/** A verdict as the HTTP path stores it next to the bytes it checked (the norm as a string: JSON has no NaN). */
const StoredVerdict = z.strictObject({
  hash: Hash32,
  norm: z.string().refine((s) => s === String(Number(s)), 'a number as String(number) writes it'),
  firstNonFinite: z.number().int().min(-1),
});

export function encodeVerdict(v: BlobVerdict): string {
  return JSON.stringify({ hash: v.hash, norm: String(v.norm), firstNonFinite: v.firstNonFinite });
}

/**
 * A stored verdict, or null when there is none or it does not parse (the worker then reads and
 * hashes the bytes itself, which is always correct, only slower).
 */
export function decodeVerdict(text: string | null | undefined): BlobVerdict | null {
  if (typeof text !== 'string') return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const r = StoredVerdict.safeParse(json);
  return r.success ? { hash: r.data.hash as Hex32, norm: Number(r.data.norm), firstNonFinite: r.data.firstNonFinite } : null;
}
