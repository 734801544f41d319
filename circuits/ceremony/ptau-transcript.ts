import { keccak256, toUtf8Bytes } from 'ethers';
import { z } from 'zod';
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { BeaconBlock, CeremonyError, ContributionHash, ContributorName, Hex32, Sha256 } from './transcript.ts';

/**
 * The record of a phase-1 (powers of tau) ceremony, `ptau.json`: the universal part of the setup,
 * shared by every circuit up to 2^power constraints. Its output `final.ptau` is what a phase-2
 * ceremony (`ceremony.json`) starts from; that transcript records the file's SHA-256, so the two
 * link. As for phase 2, every file is held by its SHA-256 (`files/<sha256>.ptau`) and snarkjs keeps
 * every contribution inside the files themselves: the transcript is an index, checked against them.
 */
export const PTAU_CEREMONY_FORMAT = 'verifiable-fl-ptau-ceremony/1';

export const PtauStep = z.strictObject({ prev: Sha256, file: Sha256, hash: ContributionHash });

export const PtauContribution = PtauStep.extend({
  index: z.number().int().positive(),
  name: ContributorName,
});
export type PtauContribution = z.infer<typeof PtauContribution>;

export const PtauBeacon = PtauStep.extend({
  source: z.string().min(1).max(200),
  value: Hex32,
  iterationsExp: z.number().int().min(10).max(63),
  block: BeaconBlock.optional(),
});
export type PtauBeacon = z.infer<typeof PtauBeacon>;

export const PtauTranscript = z
  .strictObject({
    format: z.literal(PTAU_CEREMONY_FORMAT),
    curve: z.literal('bn128'),
    /** The file holds 2^power powers: enough for circuits of up to 2^power constraints. */
    power: z.number().int().min(1).max(28),
    /** The empty accumulator snarkjs makes for this power (deterministic: anyone rebuilds it). */
    init: Sha256,
    contributions: z.array(PtauContribution),
    beacon: PtauBeacon.nullable(),
    /** final.ptau: the beacon's output prepared for phase 2. */
    final: z.strictObject({ sha256: Sha256 }).nullable(),
  })
  .superRefine((t, ctx) => {
    t.contributions.forEach((c, i) => {
      if (c.index !== i + 1) ctx.addIssue({ code: 'custom', path: ['contributions', i, 'index'], message: `contribution ${i + 1} says it is number ${c.index}` });
    });
    if (t.final && !t.beacon) ctx.addIssue({ code: 'custom', path: ['final'], message: 'the final file comes after the beacon' });
  });
export type PtauTranscript = z.infer<typeof PtauTranscript>;

export const ptauTranscriptHash = (t: PtauTranscript): `0x${string}` => keccak256(toUtf8Bytes(canonicalJson(t))) as `0x${string}`;

export function parsePtauTranscript(raw: unknown, where = 'phase-1 transcript'): PtauTranscript {
  const r = PtauTranscript.safeParse(raw);
  if (!r.success) throw new CeremonyError('BAD_TRANSCRIPT', `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The file the next contribution (or the beacon) builds on. */
export const latestPtau = (t: PtauTranscript): string => t.contributions.at(-1)?.file ?? t.init;
