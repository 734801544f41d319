import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import type { ModelSpec } from '../model-spec.ts';
import { Contributor, Hash32 } from '../schemas.ts';
export { GAIN_CONFIDENCE_Z, GAIN_UNIT, gainScore, VALIDATION_GAIN_RULE } from '../rewards.ts';
import { inlineEvaluator, type Evaluator } from './forward.ts';
import { detSqrt } from './det-math.ts';
import { signedCosineSquared, sketch, sketchPlan } from './sketch.ts';
import type { ValidationSet } from './validation-set.ts';

/**
 * The 'validation-gain' contribution score (docs/contribution-scores.md): what the round's
 * aggregate loses on the task's validation set when one update is left out.
 *
 *   1. Copies first. Every accepted update is count-sketched (sketch.ts) under a seed drawn from the
 *      round's own update hashes. An update is a copy when its sketch has cosine >= SAME_ROUND_COPY_COSINE
 *      with an update of this round that arrived before it, or >= EARLIER_COPY_COSINE with an update
 *      of the last COPY_WINDOW_ROUNDS rounds or one of those rounds' aggregate steps. Copies score 0
 *      and are left out of everything below (so they cannot dilute the original's score either).
 *      The bar for earlier rounds is higher because an honest owner's consecutive deltas point the
 *      same way more and more as training settles (measured on iris: cosine 0.87, 0.96, 0.99 in
 *      rounds 2 to 4), while a re-upload is the same vector.
 *   2. The scored set K: the other accepted updates with a positive sample count. Their
 *      sample-weighted mean, applied to the base checkpoint, is the scoring aggregate A (the
 *      FedAvg step, whatever the task's server strategy does with it): A = base + S / W with
 *      S = sum of w_j * delta_j and W = sum of w_j over K. A_-i = base + (S - w_i * delta_i) / W
 *      is A without i's part, the others' parts unscaled (so leaving out zeros changes nothing,
 *      where a re-normalised mean would pay zeros for shrinking a step that overshoots).
 *   3. gain_i = loss(A_-i) - loss(A), the deterministic validation loss of forward.ts, and se_i the
 *      standard error of that mean over the validation samples (per-sample loss differences). The
 *      score is floor((gain_i - GAIN_CONFIDENCE_Z * se_i) * GAIN_UNIT) when positive, else 0: paid
 *      is what the validation set shows helps with confidence, so noise that happens to lower the
 *      loss a little, by luck of its sign, earns nothing. An update that does not help the
 *      aggregate (zeros, noise, a step the others already made) earns nothing.
 *
 * Every number here is float64 arithmetic in a fixed order (manifest order: ascending client), so
 * the coordinator and any auditor get the same bits. Rewards are then split pro rata to the scores.
 */
export const SAME_ROUND_COPY_COSINE = 0.97;
export const EARLIER_COPY_COSINE = 0.999;
export const COPY_WINDOW_ROUNDS = 2;

const Loss = z.number().nullable();

export const ContributionBlock = z.strictObject({
  validationHash: Hash32,
  /** Seed of the round's sketches: keccak256 of "fl-scores/v1", the base hash and the sorted update hashes. */
  sketchSeed: Hash32,
  /** What the updates were compared with: earlier rounds' updates and aggregate steps (kind 'aggregate': the checkpoint hash). */
  earlier: z.array(z.strictObject({ round: z.number().int().min(1), kind: z.enum(['update', 'aggregate']), hash: Hash32 })),
  /** This round's accepted clients in order of arrival (the coordinator's clock). Clients, not update
   * hashes: two clients may upload the very same bytes (an exact copy). */
  arrival: z.array(Contributor),
  /** Validation loss of the scoring aggregate A; null when no update was scored or it is not finite. */
  aggregateLoss: Loss,
  /** One per accepted entry, in manifest order. */
  entries: z.array(
    z.strictObject({
      client: Contributor,
      updateHash: Hash32,
      /** The earlier update or aggregate this one copies, or null. */
      copyOf: Hash32.nullable(),
      /** Validation loss of A without this update; null for copies and unscored updates. */
      looLoss: Loss,
      /** Standard error of the gain over the validation samples; null with looLoss. */
      gainStdError: Loss,
    }),
  ),
});
export type ContributionBlock = z.infer<typeof ContributionBlock>;

export interface CurrentUpdate {
  client: string;
  updateHash: string;
  numSamples: number;
}
export interface EarlierItem {
  round: number;
  kind: 'update' | 'aggregate';
  hash: string;
}

export interface ScoreContributionsArgs {
  spec: ModelSpec;
  base: Float32Array;
  baseHash: string;
  validation: ValidationSet;
  validationHash: string;
  /** The round's accepted updates, in manifest order (ascending client). */
  updates: readonly CurrentUpdate[];
  /** Clients by arrival (every one of `updates`, once). */
  arrival: readonly string[];
  earlier: readonly EarlierItem[];
  /** A delta by update hash; read three times each, so only one is held at a time (one per evaluation in flight while leaving out). */
  loadUpdate(hash: string): Promise<Float32Array>;
  /** An earlier item's delta (an aggregate step: that checkpoint minus its parent). */
  loadEarlier(item: EarlierItem): Promise<Float32Array>;
  /** Where the validation losses are computed (eval-threads.ts): inline by default. The bits are the
   * same either way; with parallelism P, P leave-one-out candidates are held at once. */
  evaluator?: Evaluator;
}

export function sketchSeed(baseHash: string, updateHashes: readonly string[]): `0x${string}` {
  const text = ['fl-scores/v1', baseHash.toLowerCase(), ...[...updateHashes].map((h) => h.toLowerCase()).sort()].join('|');
  return `0x${bytesToHex(keccak_256(new TextEncoder().encode(text)))}`;
}

/** Standard error of the mean of a[s] - b[s] (sample variance, n - 1), by basic operations in sample order. */
function stdErrorOfDifference(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  if (n < 2) return 0;
  let mean = 0;
  for (let s = 0; s < n; s++) mean += (a[s] as number) - (b[s] as number);
  mean /= n;
  let ss = 0;
  for (let s = 0; s < n; s++) {
    const d = (a[s] as number) - (b[s] as number) - mean;
    ss += d * d;
  }
  return detSqrt(ss / (n - 1) / n);
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

export async function scoreContributions(a: ScoreContributionsArgs): Promise<ContributionBlock> {
  const params = a.base.length;
  const arrivalRank = new Map(a.arrival.map((c, i) => [c.toLowerCase(), i]));
  if (arrivalRank.size !== a.arrival.length || arrivalRank.size !== a.updates.length || a.updates.some((u) => !arrivalRank.has(u.client.toLowerCase()))) {
    throw new RangeError('the arrival order must name every accepted update exactly once');
  }
  const seedHex = sketchSeed(a.baseHash, a.updates.map((u) => u.updateHash));
  const plan = sketchPlan(hexToBytes(seedHex.slice(2)), params);
  const checked = async (d: Promise<Float32Array>) => {
    const v = await d;
    if (v.length !== params) throw new RangeError(`a delta of ${v.length} values for a model of ${params}`);
    return v;
  };
  const sameRound2 = SAME_ROUND_COPY_COSINE * SAME_ROUND_COPY_COSINE;
  const earlier2 = EARLIER_COPY_COSINE * EARLIER_COPY_COSINE;

  // 1. Copies.
  const earlierSketches: { hash: string; s: Float64Array }[] = [];
  for (const e of a.earlier) earlierSketches.push({ hash: e.hash.toLowerCase(), s: sketch(plan, await checked(a.loadEarlier(e))) });
  const currentSketch = new Map<string, Float64Array>();
  for (const u of a.updates) currentSketch.set(u.client.toLowerCase(), sketch(plan, await checked(a.loadUpdate(u.updateHash))));
  const hashOf = new Map(a.updates.map((u) => [u.client.toLowerCase(), u.updateHash.toLowerCase()]));
  const copyOf = new Map<string, string | null>();
  const byArrival = [...a.arrival].map((c) => c.toLowerCase());
  byArrival.forEach((h, rank) => {
    const s = currentSketch.get(h) as Float64Array;
    let found: string | null = null;
    for (const e of earlierSketches) if (signedCosineSquared(s, e.s) >= earlier2) { found = e.hash; break; }
    if (!found) for (let j = 0; j < rank; j++) {
      const other = byArrival[j] as string;
      if (signedCosineSquared(s, currentSketch.get(other) as Float64Array) >= sameRound2) { found = hashOf.get(other) as string; break; }
    }
    copyOf.set(h, found);
  });

  // 2. The scoring aggregate over K.
  const scored = a.updates.filter((u) => copyOf.get(u.client.toLowerCase()) === null && u.numSamples > 0);
  const sum = new Float64Array(params);
  let weight = 0;
  for (const u of scored) {
    const d = await checked(a.loadUpdate(u.updateHash));
    const w = u.numSamples;
    for (let k = 0; k < params; k++) sum[k] = (sum[k] as number) + w * (d[k] as number);
    weight += w;
  }
  const evaluator: Evaluator = a.evaluator ?? inlineEvaluator(a.spec, a.validation);
  let aggregateLoss: number | null = null;
  let aggregateLosses: Float64Array = new Float64Array(0);
  if (scored.length) {
    const candidate = new Float32Array(params);
    for (let k = 0; k < params; k++) candidate[k] = (a.base[k] as number) + (sum[k] as number) / weight;
    const e = await evaluator.evaluate(candidate);
    aggregateLoss = finiteOrNull(e.loss);
    aggregateLosses = e.losses;
  }

  // 3. Leave-one-out losses: independent evaluations, up to the evaluator's parallelism in flight
  // (each result is stored by client, so the order they finish in changes nothing).
  const looLoss = new Map<string, { looLoss: number | null; gainStdError: number | null }>();
  let next = 0;
  const lane = async () => {
    while (next < scored.length) {
      const u = scored[next++] as CurrentUpdate;
      const d = await checked(a.loadUpdate(u.updateHash));
      const w = u.numSamples;
      // The others' part of the step, over the same total weight: leaving an update out does not
      // rescale the rest, so an update that adds nothing (zeros) changes nothing and earns nothing.
      const candidate = new Float32Array(params);
      for (let k = 0; k < params; k++) candidate[k] = (a.base[k] as number) + ((sum[k] as number) - w * (d[k] as number)) / weight;
      const e = await evaluator.evaluate(candidate);
      looLoss.set(u.client.toLowerCase(), { looLoss: finiteOrNull(e.loss), gainStdError: aggregateLoss === null ? null : finiteOrNull(stdErrorOfDifference(e.losses, aggregateLosses)) });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(evaluator.parallelism, scored.length)) }, lane));
  return {
    validationHash: a.validationHash.toLowerCase() as `0x${string}`,
    sketchSeed: seedHex,
    earlier: a.earlier.map((e) => ({ round: e.round, kind: e.kind, hash: e.hash.toLowerCase() as `0x${string}` })),
    arrival: byArrival as `0x${string}`[],
    aggregateLoss,
    entries: a.updates.map((u) => {
      const c = u.client.toLowerCase();
      const l = looLoss.get(c);
      return { client: c as `0x${string}`, updateHash: u.updateHash.toLowerCase() as `0x${string}`, copyOf: (copyOf.get(c) ?? null) as `0x${string}` | null, looLoss: l?.looLoss ?? null, gainStdError: l?.looLoss === null ? null : (l?.gainStdError ?? null) };
    }),
  };
}
