import { z } from 'zod';

/**
 * Asynchronous buffered aggregation (FedBuff, Nguyen et al. 2022, "Federated Learning with Buffered
 * Asynchronous Aggregation"), mapped onto rounds: each round of an async task is one buffer. It opens
 * on the newest checkpoint and closes as soon as `buffer` updates are accepted, and the next buffer
 * opens at once on the new checkpoint. A client trains on whatever checkpoint is newest when it
 * starts and signs that round's number and base; when it uploads later, the update goes into the
 * buffer open at that moment, `staleness` buffers after the one it trained for.
 *
 * Staleness rule (the one the coordinator and the auditor both apply, docs/async-rounds.md): an
 * update of staleness s is multiplied by (1 + s)^-a, rounded to float32 per coordinate, before the
 * task's strategy folds it; a = stalenessExponent (0.5, FedBuff's 1/sqrt(1 + s), by default). The
 * sample weights stay as declared, so stale updates pull less in absolute terms, not only relative
 * to each other. An update with s > maxStaleness is refused with STALE.
 */
export const AsyncConfig = z.strictObject({
  /** K: accepted updates per buffer; the buffer closes and aggregates when it holds K. */
  buffer: z.number().int().min(1).max(10_000),
  /** Updates trained more than this many buffers ago are refused (STALE). */
  maxStaleness: z.number().int().min(0).max(1000).default(10),
  /** a in (1 + s)^-a. 0 treats stale updates like fresh ones. */
  stalenessExponent: z.number().min(0).max(4).default(0.5),
});
export type AsyncConfig = z.infer<typeof AsyncConfig>;

/** (1 + s)^-a: what a delta of staleness s is multiplied by. */
export function stalenessFactor(cfg: Pick<AsyncConfig, 'stalenessExponent'>, staleness: number): number {
  if (!Number.isInteger(staleness) || staleness < 0) throw new RangeError(`staleness must be a non-negative integer, got ${staleness}`);
  return Math.pow(1 + staleness, -cfg.stalenessExponent);
}

/**
 * The delta as the strategy sees it: each coordinate times the staleness factor, rounded to float32.
 * Fresh updates (factor 1) come back as they are, without a copy.
 */
export function weighByStaleness(cfg: Pick<AsyncConfig, 'stalenessExponent'>, delta: Float32Array, staleness: number): Float32Array {
  const f = stalenessFactor(cfg, staleness);
  if (f === 1) return delta;
  const out = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) out[i] = delta[i]! * f;
  return out;
}
