import { keccak256, toUtf8Bytes } from 'ethers';
import { z } from 'zod';
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { CIRCUIT_NAMES, type CircuitName } from '../artefacts.ts';

/**
 * The record of a phase-2 setup ceremony (`ceremony.json`), one document for both circuits.
 *
 * Every file it names is a zkey held by its SHA-256 (content addressing: the ceremony folder's
 * `files/<sha256>.zkey`, or the coordinator's content store). The chain of each circuit is
 * init -> contribution 1 -> ... -> contribution n -> beacon; the beacon's output is the final key.
 * snarkjs writes every contribution's public key and hash into the zkey itself, so the transcript is
 * an index that a verifier checks against the files, never a source of trust on its own.
 */

export const CEREMONY_FORMAT = 'verifiable-fl-ceremony/1';

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 as 64 lowercase hex digits');
/** snarkjs's contribution hash (phase 2) or response hash (phase 1): BLAKE2b-512, 128 hex digits. */
export const ContributionHash = z.string().regex(/^[0-9a-f]{128}$/, 'a contribution hash as 128 lowercase hex digits');
export const Hex32 = z.string().regex(/^0x[0-9a-f]{64}$/, 'a 0x-prefixed 32-byte hex value');
/** The name a contributor chose (snarkjs keeps up to 64 bytes of it in the file). */
export const ContributorName = z.string().regex(/^[\x20-\x7e]{1,64}$/, '1 to 64 printable ASCII characters');
/** A beacon that is a block hash: which block of which chain (fl-ceremony finalize --beacon-block). */
export const BeaconBlock = z.strictObject({ chainId: z.number().int().positive(), number: z.number().int().nonnegative() });

/** One circuit's step in a contribution: the file it started from, the file it made, its hash. */
export const Step = z.strictObject({ prev: Sha256, zkey: Sha256, hash: ContributionHash });
export type Step = z.infer<typeof Step>;

const perCircuit = <T extends z.ZodTypeAny>(item: T) =>
  z.record(z.string(), item).superRefine((rec, ctx) => {
    for (const k of Object.keys(rec)) if (!(CIRCUIT_NAMES as readonly string[]).includes(k)) ctx.addIssue({ code: 'custom', message: `unknown circuit '${k}'` });
  }) as unknown as z.ZodType<Partial<Record<CircuitName, z.infer<T>>>>;

export const Contribution = z.strictObject({
  /** 1-based position in the chain. */
  index: z.number().int().positive(),
  name: ContributorName,
  circuits: perCircuit(Step),
});
export type Contribution = z.infer<typeof Contribution>;

export const Beacon = z.strictObject({
  /** Where the value comes from, in words anyone can check (e.g. "hash of Ethereum block 21000000"). */
  source: z.string().min(1).max(200),
  /** The public random value, 32 bytes, fixed after the last contribution was published. */
  value: Hex32,
  /** snarkjs hashes the value 2^iterationsExp times. */
  iterationsExp: z.number().int().min(10).max(63),
  /**
   * When the value is a block hash (fl-ceremony finalize --beacon-block): which block of which chain,
   * so that anyone with an RPC node of that chain re-checks the value (verify --rpc, fl-audit).
   */
  block: BeaconBlock.optional(),
  circuits: perCircuit(Step),
});
export type Beacon = z.infer<typeof Beacon>;

export const FinalKey = z.strictObject({
  zkey: Sha256,
  /** keccak256 of the canonical JSON of the verification key: what tasks and contracts pin. */
  vkeyHash: Hex32,
  /** SHA-256 of the exported Solidity verifier. */
  verifierSha256: Sha256,
});
export type FinalKey = z.infer<typeof FinalKey>;

export const Transcript = z
  .strictObject({
    format: z.literal(CEREMONY_FORMAT),
    /** The phase-1 powers of tau every circuit's initial key was made from. */
    ptau: z.strictObject({ sha256: Sha256 }),
    circuits: perCircuit(z.strictObject({ r1cs: Sha256, init: Sha256 })),
    contributions: z.array(Contribution),
    beacon: Beacon.nullable(),
    final: perCircuit(FinalKey).nullable(),
  })
  .superRefine((t, ctx) => {
    const names = Object.keys(t.circuits);
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['circuits'], message: 'a ceremony covers at least one circuit' });
    t.contributions.forEach((c, i) => {
      if (c.index !== i + 1) ctx.addIssue({ code: 'custom', path: ['contributions', i, 'index'], message: `contribution ${i + 1} says it is number ${c.index}` });
      if (Object.keys(c.circuits).sort().join() !== [...names].sort().join()) ctx.addIssue({ code: 'custom', path: ['contributions', i, 'circuits'], message: `contribution ${i + 1} must cover exactly ${names.join(', ')}` });
    });
    if (t.final && !t.beacon) ctx.addIssue({ code: 'custom', path: ['final'], message: 'final keys come after the beacon' });
  });
export type Transcript = z.infer<typeof Transcript>;

/** The circuits of a ceremony, in the project's fixed order. */
export const circuitsOf = (t: Transcript): CircuitName[] => CIRCUIT_NAMES.filter((n) => t.circuits[n] !== undefined);

/** The file a circuit's chain has reached: the last contribution's (or the beacon's) output, else the initial key. */
export function latestFile(t: Transcript, circuit: CircuitName): string {
  if (t.beacon) return t.beacon.circuits[circuit]!.zkey;
  const last = t.contributions.at(-1);
  return last ? last.circuits[circuit]!.zkey : t.circuits[circuit]!.init;
}

/** The transcript as stored: canonical JSON, so its hash is reproducible. */
export const transcriptBytes = (t: Transcript): Uint8Array => toUtf8Bytes(canonicalJson(t));
/** What private tasks and the auditor pin: keccak256 of the canonical transcript. */
export const transcriptHash = (t: Transcript): `0x${string}` => keccak256(transcriptBytes(t)) as `0x${string}`;
/** keccak256 of a verification key's canonical JSON. */
export const vkeyHash = (vkey: unknown): `0x${string}` => keccak256(toUtf8Bytes(canonicalJson(vkey))) as `0x${string}`;

export class CeremonyError extends Error {
  constructor(
    readonly code:
      | 'BAD_TRANSCRIPT'
      | 'MISSING_FILE'
      | 'FILE_MISMATCH'
      | 'BAD_CONTRIBUTION'
      | 'STALE_CONTRIBUTION'
      | 'WRONG_INIT'
      | 'WRONG_PTAU'
      | 'BAD_BEACON'
      | 'BAD_FINAL'
      | 'FINALIZED'
      | 'NOT_FINALIZED',
    message: string,
  ) {
    super(message);
    this.name = 'CeremonyError';
  }
}

export function parseTranscript(raw: unknown, where = 'ceremony transcript'): Transcript {
  const r = Transcript.safeParse(raw);
  if (!r.success) throw new CeremonyError('BAD_TRANSCRIPT', `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}
