import { z } from 'zod';
import { decodeFloat32, encodeFloat32 } from './codec.ts';
import { ProtocolError } from './errors.ts';
import { Prng } from './prng.ts';

/**
 * How an open task's weight deltas travel (the bytes a client signs, uploads and the archive keeps):
 *
 *   float32  4 bytes a parameter, little-endian, the flat vector as is (protocol/codec.ts).
 *   int8     the flat vector cut into blocks of `block` parameters (the last one may be shorter);
 *            first one float32 scale per block (little-endian), then one int8 per parameter:
 *              [scale_0 … scale_{B-1}] [q_0 … q_{n-1}]      value_i = q_i × scale_{⌊i/block⌋}
 *            scale_b = max |x| over the block / 127 (rounded up to a float32, so |x / scale| ≤ 127)
 *            and q_i = x_i / scale rounded stochastically: up with probability equal to the fraction, so
 *            E[q × scale] = x and the rounding errors of many clients average out instead of adding
 *            a bias. 1 + 4/block bytes a parameter (1.0156 at the default 256).
 *   topk     the k = ceil(fraction × n) coordinates of largest magnitude (ties: the lower index),
 *            as k uint32 indices, strictly ascending, then their k float32 values (little-endian):
 *              [i_0 < i_1 < … < i_{k-1}] [v_0 … v_{k-1}]      value_{i_j} = v_j, every other 0
 *            8 × fraction bytes a parameter (0.4 at fraction 0.05). Lossy by design: the client keeps
 *            what it did not send and adds it to its next delta (error feedback, Stich et al. 2018;
 *            client/federated-client.ts), so nothing is lost, only delayed.
 *
 * Decoding is the only part the coordinator and the auditor run, and it is exact: q × scale of an
 * int8 and a float32 fits a float64 without rounding, and Math.fround rounds it to float32 the same
 * way everywhere, so `fl-audit --reaggregate` rebuilds checkpoints bit for bit. The stochastic
 * rounding draws from a generator the client seeds (deterministically from what it trains on, so a
 * seeded demo stays reproducible); nobody needs to redo it, since the encoded bytes are what is signed.
 * Malformed bytes are refused with a reason: a wrong length, q = -128 (the codec is symmetric), a
 * negative or non-finite scale, a block of zeros with a non-zero scale; for topk an index out of
 * range or out of order.
 */

export const DEFAULT_INT8_BLOCK = 256;

export const WireCodec = z.discriminatedUnion('codec', [
  z.strictObject({ codec: z.literal('float32') }),
  z.strictObject({
    codec: z.literal('int8'),
    /** Parameters per scale: smaller keeps outliers from flattening their neighbours, larger saves bytes. */
    block: z.number().int().min(16).max(65_536).default(DEFAULT_INT8_BLOCK),
  }),
  z.strictObject({
    codec: z.literal('topk'),
    /** Share of the coordinates sent each round; the rest waits in the client's error-feedback residual. */
    fraction: z.number().gt(0).max(1).default(0.05),
  }),
]);
export type WireCodec = z.infer<typeof WireCodec>;

export const FLOAT32_WIRE: WireCodec = { codec: 'float32' };
/** What an open task gets when its creator names no codec: int8 at the default block. */
export const DEFAULT_OPEN_WIRE: WireCodec = { codec: 'int8', block: DEFAULT_INT8_BLOCK };

/** Bytes of one encoded delta of `params` parameters. */
export function wireBytes(wire: WireCodec, params: number): number {
  if (wire.codec === 'float32') return params * 4;
  if (wire.codec === 'topk') return topkCount(wire.fraction, params) * 8;
  return Math.ceil(params / wire.block) * 4 + params;
}

/** k of a top-k delta: ceil(fraction × params), at least 1 and at most params. */
export function topkCount(fraction: number, params: number): number {
  return Math.min(params, Math.max(1, Math.ceil(fraction * params)));
}

/** A uniform draw in [0, 1): what stochastic rounding consumes. */
export type UniformSource = () => number;

/** A rounding source from a 32-bit seed (protocol/prng.ts's mulberry32): the same in Node and in a page. */
export function roundingSource(seed: number): UniformSource {
  const prng = new Prng(seed);
  return () => prng.next();
}

/** Encodes a delta with the task's codec; `uniform` feeds int8's stochastic rounding. */
export function encodeWire(wire: WireCodec, values: Float32Array, uniform: UniformSource): Uint8Array {
  if (wire.codec === 'float32') return encodeFloat32(values);
  if (wire.codec === 'topk') return encodeTopk(topkCount(wire.fraction, values.length), values);
  const n = values.length;
  const blocks = Math.ceil(n / wire.block);
  const out = new Uint8Array(blocks * 4 + n);
  const scales = new DataView(out.buffer, 0, blocks * 4);
  const q = new Int8Array(out.buffer, blocks * 4, n);
  for (let b = 0; b < blocks; b++) {
    const start = b * wire.block;
    const end = Math.min(n, start + wire.block);
    let max = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(values[i] as number);
      if (!(a <= Number.MAX_VALUE)) throw new ProtocolError('NON_FINITE', `delta value ${i} is not finite`);
      if (a > max) max = a;
    }
    // The float32 at or above max/127: then |x / scale| <= 127 and q never needs clamping.
    let scale = Math.fround(max / 127);
    if (scale * 127 < max) scale = nextFloat32Up(scale);
    scales.setFloat32(b * 4, scale, true);
    if (scale === 0) continue; // all zeros: q stays 0
    for (let i = start; i < end; i++) {
      const r = (values[i] as number) / scale;
      const lo = Math.floor(r);
      let v = uniform() < r - lo ? lo + 1 : lo;
      if (v > 127) v = 127;
      else if (v < -127) v = -127;
      q[i] = v;
    }
  }
  return out;
}

/** Decodes a delta of `params` parameters; ProtocolError BAD_LENGTH or BAD_ENCODING on bytes that are not one. */
export function decodeWire(wire: WireCodec, bytes: Uint8Array, params: number): Float32Array {
  if (wire.codec === 'float32') return decodeFloat32(bytes, params);
  if (wire.codec === 'topk') return decodeTopk(topkCount(wire.fraction, params), bytes, params);
  const want = wireBytes(wire, params);
  if (bytes.byteLength !== want) throw new ProtocolError('BAD_LENGTH', `an int8 delta of ${params} parameters (block ${wire.block}) has ${want} bytes, got ${bytes.byteLength}`);
  const blocks = Math.ceil(params / wire.block);
  const view = new DataView(bytes.buffer, bytes.byteOffset, blocks * 4);
  const scales = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const scale = view.getFloat32(b * 4, true);
    if (!(scale >= 0 && scale <= 3.4028234663852886e38)) throw new ProtocolError('BAD_ENCODING', `int8 block ${b}: scale ${scale} is not a finite non-negative float32`);
    scales[b] = scale;
  }
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + blocks * 4, params);
  const out = new Float32Array(params);
  const block = wire.block;
  // Tight loops only (the checks come after, in their own pass): the store into a Float32Array
  // rounds the exact float64 product q x scale the same way Math.fround does.
  for (let b = 0, start = 0; b < blocks; b++, start += block) {
    const scale = scales[b] as number;
    const end = start + block < params ? start + block : params;
    for (let i = start; i < end; i++) out[i] = (q[i] as number) * scale;
  }
  for (let b = 0, start = 0; b < blocks; b++, start += block) {
    const end = start + block < params ? start + block : params;
    let any = 0;
    let min = 0;
    for (let i = start; i < end; i++) {
      const v = q[i] as number;
      any |= v;
      min = v < min ? v : min;
    }
    if (min === -128) {
      for (let i = start; i < end; i++) if (q[i] === -128) throw new ProtocolError('BAD_ENCODING', `int8 value ${i} is -128 (the codec is symmetric: -127..127)`);
    }
    if (any === 0 && scales[b] !== 0) throw new ProtocolError('BAD_ENCODING', `int8 block ${b}: all values are 0 but the scale is ${scales[b]} (a zero block has scale 0)`);
  }
  return out;
}

/** The k largest-magnitude coordinates, indices ascending; ties at the threshold go to the lower indices. */
function encodeTopk(k: number, values: Float32Array): Uint8Array {
  const n = values.length;
  const mags = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.abs(values[i] as number);
    if (!(a <= Number.MAX_VALUE)) throw new ProtocolError('NON_FINITE', `delta value ${i} is not finite`);
    mags[i] = a;
  }
  // The k-th largest magnitude: everything above it is sent, then values equal to it in index order.
  const sorted = mags.slice().sort();
  const threshold = sorted[n - k] as number;
  let above = 0;
  for (let i = 0; i < n; i++) if ((mags[i] as number) > threshold) above++;
  let ties = k - above;
  const out = new Uint8Array(k * 8);
  const view = new DataView(out.buffer);
  for (let i = 0, j = 0; i < n && j < k; i++) {
    const m = mags[i] as number;
    if (m > threshold || (m === threshold && ties-- > 0)) {
      view.setUint32(j * 4, i, true);
      view.setFloat32(k * 4 + j * 4, values[i] as number, true);
      j++;
    }
  }
  return out;
}

function decodeTopk(k: number, bytes: Uint8Array, params: number): Float32Array {
  if (bytes.byteLength !== k * 8) throw new ProtocolError('BAD_LENGTH', `a top-k delta of ${params} parameters (k = ${k}) has ${k * 8} bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(params);
  let prev = -1;
  for (let j = 0; j < k; j++) {
    const i = view.getUint32(j * 4, true);
    if (i >= params) throw new ProtocolError('BAD_ENCODING', `top-k index ${j} is ${i}, the model has ${params} parameters`);
    if (i <= prev) throw new ProtocolError('BAD_ENCODING', `top-k index ${j} (${i}) does not follow index ${j - 1} (${prev}): indices are strictly ascending`);
    out[i] = view.getFloat32(k * 4 + j * 4, true);
    prev = i;
  }
  return out;
}

/** The next float32 above a non-negative finite float32. */
function nextFloat32Up(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] as number) + 1;
  return f[0] as number;
}
