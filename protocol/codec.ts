import { ProtocolError } from './errors.ts';
import type { WeightManifest } from './model-spec.ts';

/**
 * The delta wire format: the flat parameter vector as little-endian float32, tensors concatenated
 * in manifest order. No header: the manifest comes from the task's model spec, so a blob whose
 * byte length differs from 4 x parameters is rejected outright.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Encodes a flat float32 vector as little-endian bytes (a zero-copy view on little-endian hosts). */
export function encodeFloat32(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return out;
}

/** Decodes little-endian float32 bytes; copies when the input is not 4-byte aligned. */
export function decodeFloat32(bytes: Uint8Array, expectedLength?: number): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new ProtocolError('BAD_LENGTH', `byte length ${bytes.byteLength} is not a multiple of 4`);
  const n = bytes.byteLength / 4;
  if (expectedLength !== undefined && n !== expectedLength) {
    throw new ProtocolError('BAD_LENGTH', `expected ${expectedLength} float32 values (${expectedLength * 4} bytes), got ${bytes.byteLength} bytes`);
  }
  if (LITTLE_ENDIAN) {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    // Uint8Array's own slice: Buffer#slice would return a view into Node's shared pool, not a copy.
    return new Float32Array(Uint8Array.prototype.slice.call(bytes).buffer, 0, n);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Decodes a delta blob against the task's manifest. */
export function decodeDelta(manifest: WeightManifest, bytes: Uint8Array): Float32Array {
  return decodeFloat32(bytes, manifest.size);
}

/** Index of the first NaN or infinite value, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // v - v is NaN exactly for NaN and +-Infinity; cheaper than Number.isFinite in a hot loop.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Euclidean norm, accumulated in float64. */
export function l2Norm(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] as number) * (values[i] as number);
  return Math.sqrt(s);
}

/** Splits a flat vector into per-tensor views following the manifest. */
export function splitTensors(manifest: WeightManifest, flat: Float32Array): Float32Array[] {
  if (flat.length !== manifest.size) throw new ProtocolError('BAD_LENGTH', `expected ${manifest.size} values, got ${flat.length}`);
  return manifest.tensors.map((t) => flat.subarray(t.offset, t.offset + t.size));
}
