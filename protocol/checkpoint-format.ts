import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';
import { decodeFloat32, encodeFloat32 } from './codec.ts';
import { ProtocolError } from './errors.ts';
import { contentHash, type Hex32 } from './hash.ts';
import { ModelSpec, weightManifest } from './model-spec.ts';

/**
 * A checkpoint is one byte string whose keccak256 is its identity (and, later, what the chain records):
 *
 *   "FLCKPT01" | u32le headerLength | header (canonical JSON, space-padded to 4-byte alignment)
 *   | weights (float32le, manifest order) | server-state tensors (float32le, name order)
 *
 * Server-optimiser state (e.g. FedAdam moments) lives in the checkpoint, so a restarted coordinator
 * resumes it and an auditor can re-derive the next round from the bytes alone.
 */
const MAGIC = new TextEncoder().encode('FLCKPT01');

export const ServerState = z.object({
  scalars: z.record(z.string(), z.number()),
  tensors: z.record(z.string(), z.custom<Float32Array>((v) => v instanceof Float32Array)),
});
export type ServerState = z.infer<typeof ServerState>;
export const emptyServerState = (): ServerState => ({ scalars: {}, tensors: {} });

/**
 * Private tasks: the Groth16 keys their proofs are checked with, pinned in the genesis checkpoint
 * (so on chain from the task's creation): the verification keys' hashes and, for keys from a setup
 * ceremony (fl-ceremony), the transcript's hash and contributor count. Development keys come from a
 * public beacon only (no transcript): anyone can forge proofs with them.
 */
export const ZkKeysPin = z.strictObject({
  kind: z.enum(['development', 'ceremony']),
  membershipVkey: z.string().regex(/^0x[0-9a-f]{64}$/),
  claimVkey: z.string().regex(/^0x[0-9a-f]{64}$/),
  transcript: z.string().regex(/^0x[0-9a-f]{64}$/).nullable(),
  contributors: z.number().int().nonnegative(),
});
export type ZkKeysPin = z.infer<typeof ZkKeysPin>;

const Header = z.object({
  format: z.literal(1),
  task: z.number().int().nonnegative(),
  round: z.number().int().nonnegative(),
  parentHash: z.string().nullable(),
  strategy: z.string(),
  modelSpec: ModelSpec,
  params: z.number().int().positive(),
  stateScalars: z.record(z.string(), z.number()),
  stateTensors: z.array(z.object({ name: z.string(), size: z.number().int().nonnegative() })),
  validationHash: z.string().regex(/^0x[0-9a-f]{64}$/).optional(),
  zkKeys: ZkKeysPin.optional(),
});


export interface Checkpoint {
  task: number;
  /** The round that produced it; 0 for the genesis checkpoint. */
  round: number;
  parentHash: Hex32 | null;
  strategy: string;
  modelSpec: ModelSpec;
  weights: Float32Array;
  serverState: ServerState;
  /**
   * Genesis checkpoints of validation-gain tasks only: the validation set the scores are measured
   * on. The chain records the genesis hash at task creation, so this commits the set from the start.
   */
  validationHash?: Hex32;
  /** Genesis checkpoints of private tasks only: the zero-knowledge keys the task uses. */
  zkKeys?: ZkKeysPin;
}

/** Serialises a checkpoint canonically: equal checkpoints give equal bytes. */
export function encodeCheckpoint(cp: Checkpoint): Uint8Array {
  const manifest = weightManifest(cp.modelSpec);
  if (cp.weights.length !== manifest.size) throw new ProtocolError('BAD_CHECKPOINT', `weights have ${cp.weights.length} values, the model has ${manifest.size}`);
  const names = Object.keys(cp.serverState.tensors).sort();
  const header = canonicalJson({
    format: 1,
    task: cp.task,
    round: cp.round,
    parentHash: cp.parentHash,
    strategy: cp.strategy,
    modelSpec: cp.modelSpec,
    params: manifest.size,
    stateScalars: cp.serverState.scalars,
    stateTensors: names.map((name) => ({ name, size: (cp.serverState.tensors[name] as Float32Array).length })),
    ...(cp.validationHash ? { validationHash: cp.validationHash } : {}),
    ...(cp.zkKeys ? { zkKeys: cp.zkKeys } : {}),
  });
  let headerBytes = new TextEncoder().encode(header);
  const pad = (4 - ((MAGIC.length + 4 + headerBytes.length) % 4)) % 4;
  if (pad) headerBytes = new TextEncoder().encode(header + ' '.repeat(pad));
  const tensors = [cp.weights, ...names.map((n) => cp.serverState.tensors[n] as Float32Array)];
  const total = MAGIC.length + 4 + headerBytes.length + tensors.reduce((a, t) => a + t.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, headerBytes.length, true);
  let off = MAGIC.length + 4;
  out.set(headerBytes, off);
  off += headerBytes.length;
  for (const t of tensors) {
    out.set(encodeFloat32(t), off);
    off += t.byteLength;
  }
  return out;
}

/** Parses checkpoint bytes, checking every length; never trusts the file. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)) throw new ProtocolError('BAD_CHECKPOINT', 'not a checkpoint (bad magic)');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (start + headerLength > bytes.length) throw new ProtocolError('BAD_CHECKPOINT', 'truncated header');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + headerLength)));
  } catch {
    throw new ProtocolError('BAD_CHECKPOINT', 'header is not JSON');
  }
  const r = Header.safeParse(parsed);
  if (!r.success) throw new ProtocolError('BAD_CHECKPOINT', `bad header: ${r.error.issues.map((i) => i.message).join('; ')}`);
  const h = r.data;
  let off = start + headerLength;
  const take = (n: number) => {
    if (off + n * 4 > bytes.length) throw new ProtocolError('BAD_CHECKPOINT', 'truncated tensor data');
    // Copy so the result does not alias (and pin) the caller's buffer.
    const t = decodeFloat32(Uint8Array.prototype.slice.call(bytes, off, off + n * 4), n);
    off += n * 4;
    return t;
  };
  const weights = take(h.params);
  const tensors: Record<string, Float32Array> = {};
  for (const t of h.stateTensors) tensors[t.name] = take(t.size);
  if (off !== bytes.length) throw new ProtocolError('BAD_CHECKPOINT', `${bytes.length - off} trailing bytes`);
  if (weightManifest(h.modelSpec).size !== h.params) throw new ProtocolError('BAD_CHECKPOINT', 'parameter count does not match the model spec');
  return {
    task: h.task,
    round: h.round,
    parentHash: h.parentHash as Hex32 | null,
    strategy: h.strategy,
    modelSpec: h.modelSpec,
    weights,
    serverState: { scalars: h.stateScalars, tensors },
    ...(h.validationHash ? { validationHash: h.validationHash as Hex32 } : {}),
    ...(h.zkKeys ? { zkKeys: h.zkKeys } : {}),
  };
}

export async function checkpointHash(bytes: Uint8Array): Promise<Hex32> {
  return contentHash(bytes);
}
