import type { AggregateInput, AggregateResult, ClientDelta, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';

/** L2 norm in float64, summed in coordinate order (deterministic, like every strategy here). */
export function l2Norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** A copy of `delta` scaled down to L2 norm `maxNorm`, or `delta` itself when it is within. Never writes its input. */
export function clipToNorm(delta: Float32Array, maxNorm: number): Float32Array {
  const norm = l2Norm(delta);
  if (!(norm > maxNorm)) return delta;
  const k = maxNorm / norm;
  const out = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) out[i] = delta[i]! * k;
  return out;
}

/**
 * Norm clipping around any strategy: every update is scaled down to at most `maxNorm` (L2) before
 * the inner rule sees it. Unlike the worker's `limits.maxNorm`, which rejects a large update, this
 * keeps it but caps its influence: one scaled-up (x100) poisoned update moves a clipped mean by at
 * most maxNorm x its weight. Deterministic, so re-aggregation by the auditor reproduces it.
 */
export class ClipStrategy implements Strategy {
  readonly name: Strategy['name'];
  constructor(
    private readonly inner: Strategy,
    private readonly maxNorm: number,
  ) {
    if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new StrategyError('BAD_CONFIG', `clip.maxNorm must be a positive number, got ${maxNorm}`);
    this.name = inner.name;
  }

  aggregate(input: AggregateInput): Promise<AggregateResult> {
    const maxNorm = this.maxNorm;
    const deltas = () =>
      (async function* () {
        for await (const d of input.deltas()) yield { ...d, delta: clipToNorm(d.delta, maxNorm) } satisfies ClientDelta;
      })();
    return this.inner.aggregate({ ...input, deltas });
  }
}
