import { z } from 'zod';

/**
 * What the operator reports about a task from outside the round itself: the test-set evaluation of
 * each round's checkpoint, and the outcome of the latest audit. The coordinator stores and shows
 * these (dashboard, REST) but cannot check them: they are claims by whoever holds the admin token,
 * labelled as such. Anyone can re-check both: the checkpoints are public, and so is fl-audit.
 */
export const RoundEvaluation = z
  .object({
    /** Fraction of test examples classified right, in [0, 1]. */
    accuracy: z.number().min(0).max(1),
    loss: z.number().min(0).max(1e9),
    /** Test examples evaluated. */
    examples: z.number().int().min(1).max(1e9),
    /** Which test set, e.g. "mnist-test-2000". */
    dataset: z.string().min(1).max(120),
  })
  .strict();
export type RoundEvaluation = z.infer<typeof RoundEvaluation>;

/** A stored evaluation: which round's checkpoint, and when it was reported. */
export const StoredEvaluation = RoundEvaluation.extend({ round: z.number().int().min(1), checkpointHash: z.string(), reportedAt: z.string() });
export type StoredEvaluation = z.infer<typeof StoredEvaluation>;

export const AuditSummary = z
  .object({
    pass: z.boolean(),
    /** Rounds the audit covered. */
    rounds: z.number().int().min(0).max(2 ** 40),
    findings: z.number().int().min(0).max(1e9),
    /** Whether the auditor re-ran every aggregation (fl-audit --reaggregate). */
    reaggregated: z.boolean(),
    /** Chain block the audit read up to. */
    toBlock: z.number().int().min(0).optional(),
  })
  .strict();
export type AuditSummary = z.infer<typeof AuditSummary>;

export const StoredAudit = AuditSummary.extend({ reportedAt: z.string() });
export type StoredAudit = z.infer<typeof StoredAudit>;
