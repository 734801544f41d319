import { ProtocolError } from '../errors.ts';
import type { ModelSpec } from '../model-spec.ts';
import type { LabelledSet } from './forward.ts';

/**
 * The validation set a task's contribution scores are measured on (docs/contribution-scores.md).
 * It is fixed when the task is created: the task names it by the keccak256 of these bytes, the
 * coordinator serves it, and the auditor scores with the very bytes the hash names.
 *
 * Bytes, all little-endian:
 *   "FLVS" | u8 version = 1 | u32 n | u32 features | u32 classes
 *   | n * features float32 features, row-major | n u16 labels
 */
const MAGIC = [0x46, 0x4c, 0x56, 0x53];
const HEADER = 4 + 1 + 12;
/** At most this many samples: each is scored once per accepted update and round. */
export const MAX_VALIDATION_SAMPLES = 10_000;

export interface ValidationSet extends LabelledSet {
  features: number;
  classes: number;
}

export function encodeValidationSet(v: ValidationSet): Uint8Array {
  checkShape(v);
  const out = new Uint8Array(HEADER + v.n * v.features * 4 + v.n * 2);
  const dv = new DataView(out.buffer);
  out.set(MAGIC);
  dv.setUint8(4, 1);
  dv.setUint32(5, v.n, true);
  dv.setUint32(9, v.features, true);
  dv.setUint32(13, v.classes, true);
  let o = HEADER;
  for (let i = 0; i < v.x.length; i++, o += 4) dv.setFloat32(o, v.x[i] as number, true);
  for (let i = 0; i < v.n; i++, o += 2) dv.setUint16(o, v.y[i] as number, true);
  return out;
}

/** Parses and checks the bytes; throws ProtocolError BAD_VALIDATION_SET naming what is wrong. */
export function decodeValidationSet(bytes: Uint8Array): ValidationSet {
  const bad = (why: string) => new ProtocolError('BAD_VALIDATION_SET', `validation set: ${why}`);
  if (bytes.length < HEADER || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('not a validation set (no FLVS header)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint8(4) !== 1) throw bad(`unknown version ${dv.getUint8(4)}`);
  const n = dv.getUint32(5, true);
  const features = dv.getUint32(9, true);
  const classes = dv.getUint32(13, true);
  if (n < 1 || n > MAX_VALIDATION_SAMPLES) throw bad(`${n} samples; between 1 and ${MAX_VALIDATION_SAMPLES} are allowed`);
  if (features < 1 || classes < 2 || classes > 65535) throw bad(`${features} features and ${classes} classes`);
  const want = HEADER + n * features * 4 + n * 2;
  if (bytes.length !== want) throw bad(`${bytes.length} bytes; ${n} samples of ${features} features take ${want}`);
  const x = new Float32Array(n * features);
  let o = HEADER;
  for (let i = 0; i < x.length; i++, o += 4) {
    const f = dv.getFloat32(o, true);
    if (!Number.isFinite(f)) throw bad(`feature ${i % features} of sample ${Math.floor(i / features)} is not finite`);
    x[i] = f;
  }
  const y = new Uint16Array(n);
  for (let i = 0; i < n; i++, o += 2) {
    const l = dv.getUint16(o, true);
    if (l >= classes) throw bad(`label ${l} of sample ${i} is not below ${classes}`);
    y[i] = l;
  }
  return { x, y, n, features, classes };
}

/** Throws BAD_VALIDATION_SET when the set does not fit the model's input and classes. */
export function checkValidationFits(v: ValidationSet, spec: ModelSpec): void {
  const features = spec.inputShape.reduce((a, b) => a * b, 1);
  if (v.features !== features || v.classes !== spec.classes) {
    throw new ProtocolError('BAD_VALIDATION_SET', `validation set has ${v.features} features and ${v.classes} classes; the model takes ${features} and has ${spec.classes}`);
  }
}

function checkShape(v: ValidationSet) {
  if (v.x.length !== v.n * v.features || v.y.length !== v.n) throw new ProtocolError('BAD_VALIDATION_SET', `validation set: arrays do not hold ${v.n} samples of ${v.features} features`);
}
