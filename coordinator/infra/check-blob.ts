import { z } from 'zod';
import { contentHash, decodeWire, FLOAT32_WIRE, firstNonFinite, Hash32, l2Norm, ProtocolError, type Hex32, type WireCodec } from '../../protocol/index.ts';

/** What the update worker needs to know about a delta's bytes. */
export interface BlobVerdict {
  hash: Hex32;
  /** L2 norm of the float32 values (NaN when the length is not a multiple of 4). */
  norm: number;
  /** Index of the first NaN/Inf value when the norm is not finite, else -1. */
  firstNonFinite: number;
  /** Why the bytes are not a delta in the task's codec (then norm is NaN); absent when they are. */
  badEncoding?: string;
}

/**
 * Hashes a delta and measures it in one place, whether it runs inline or on a checker thread.
 * The float64 sum of squares of finite float32 values cannot overflow at our model sizes, so the
 * norm is non-finite exactly when some value is; only then is the bad value looked for.
 */
export async function checkBlob(bytes: Uint8Array, wire: WireCodec = FLOAT32_WIRE, params?: number): Promise<BlobVerdict> {
  const hash = await contentHash(bytes);
  if (wire.codec === 'float32' && bytes.byteLength % 4 !== 0) return { hash, norm: NaN, firstNonFinite: -1 };
  let values: Float32Array;
  try {
    // float32 needs no parameter count (the worker checks the length); int8's layout does.
    values = decodeWire(wire, bytes, wire.codec === 'float32' ? bytes.byteLength / 4 : (params ?? 0));
  } catch (e) {
    if (e instanceof ProtocolError) return { hash, norm: NaN, firstNonFinite: -1, badEncoding: e.message };
    throw e;
  }
  const norm = l2Norm(values);
  return { hash, norm, firstNonFinite: Number.isFinite(norm) ? -1 : firstNonFinite(values) };
}

/** A verdict as the HTTP path stores it next to the bytes it checked (the norm as a string: JSON has no NaN). */
const StoredVerdict = z.strictObject({
  hash: Hash32,
  norm: z.string().refine((s) => s === String(Number(s)), 'a number as String(number) writes it'),
  firstNonFinite: z.number().int().min(-1),
  badEncoding: z.string().max(500).optional(),
});

export function encodeVerdict(v: BlobVerdict): string {
  return JSON.stringify({ hash: v.hash, norm: String(v.norm), firstNonFinite: v.firstNonFinite, ...(v.badEncoding ? { badEncoding: v.badEncoding } : {}) });
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
  return r.success ? { hash: r.data.hash as Hex32, norm: Number(r.data.norm), firstNonFinite: r.data.firstNonFinite, ...(r.data.badEncoding ? { badEncoding: r.data.badEncoding } : {}) } : null;
}
