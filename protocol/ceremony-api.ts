import { z } from 'zod';
import type { CircuitName } from '../circuits/artefacts.ts';
import { Contribution, Step, Transcript } from '../circuits/ceremony/transcript.ts';

/**
 * The wire format of a coordinator-hosted setup ceremony (coordinator/http/ceremony-routes.ts,
 * client/ceremony/remote.ts). The ceremony itself is circuits/ceremony: these are only the bodies
 * that carry its transcript and candidates over HTTP.
 */

export const CeremonyCircuit = z.enum(['membership', 'claim'] as const satisfies readonly CircuitName[]);

/** SHA-256 of a zkey file, as the ceremony folder names it: 64 lowercase hex digits. */
export const ZkeySha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 as 64 lowercase hex digits');

/** POST /v1/ceremony: which circuits the ceremony covers (default: all of them). */
export const StartCeremonyBody = z.strictObject({
  circuits: z
    .array(CeremonyCircuit)
    .min(1)
    .refine((a) => new Set(a).size === a.length, 'each circuit at most once')
    .optional(),
});
export type StartCeremonyBody = z.infer<typeof StartCeremonyBody>;

/**
 * POST /v1/ceremony/contributions: a candidate (circuits/ceremony/ceremony.ts `Candidate`), per
 * circuit the file it was made on, the new file (uploaded before with PUT) and its contribution hash.
 */
export const ContributionBody = z.strictObject({
  name: Contribution.shape.name,
  circuits: z.partialRecord(CeremonyCircuit, Step),
});
export type ContributionBody = z.infer<typeof ContributionBody>;

/** POST /v1/ceremony/finalize: the public beacon, fixed after the last contribution. */
/**
 * POST /v1/ceremony/finalize: either the hash of a block of the coordinator's own chain, announced in
 * advance (`beaconBlock`; the coordinator reads it from its RPC node and records the block), or a
 * value from elsewhere with the words that say where it comes from (`beacon` and `source`).
 */
export const FinalizeCeremonyBody = z.union([
  z.strictObject({
    beaconBlock: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    iterationsExp: z.number().int().min(10).max(63).optional(),
  }),
  z.strictObject({
    beacon: z.string().regex(/^0x[0-9a-fA-F]{64}$/, '0x and 64 hex digits (a block hash)').transform((v) => v.toLowerCase()),
    source: z.string().min(1).max(200),
    iterationsExp: z.number().int().min(10).max(63).optional(),
  }),
]);
export type FinalizeCeremonyBody = z.infer<typeof FinalizeCeremonyBody>;

/** GET /v1/ceremony: the transcript as stored, its hash, each circuit's latest file, and whether it is finalized. */
export const CeremonyState = z.strictObject({
  transcript: Transcript,
  /** keccak256 of the canonical transcript: recompute it from `transcript` to check. */
  transcriptHash: z.string().regex(/^0x[0-9a-f]{64}$/),
  latest: z.partialRecord(CeremonyCircuit, ZkeySha256),
  finalized: z.boolean(),
});
export type CeremonyState = z.infer<typeof CeremonyState>;

/** PUT /v1/ceremony/contributions/{circuit}/{sha256}: what was stored. */
export const UploadedZkey = z.strictObject({
  circuit: CeremonyCircuit,
  sha256: ZkeySha256,
  bytes: z.number().int().nonnegative(),
  /** false when the file was there already (content-addressed: same hash, same bytes). */
  stored: z.boolean(),
});
export type UploadedZkey = z.infer<typeof UploadedZkey>;

/** POST /v1/ceremony/contributions: the record appended to the transcript. */
export const AcceptedContribution = z.strictObject({
  contribution: Contribution,
  transcriptHash: z.string().regex(/^0x[0-9a-f]{64}$/),
});
export type AcceptedContribution = z.infer<typeof AcceptedContribution>;
