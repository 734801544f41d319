import { divideInPlace, foldWeighted } from './aggregate-math.ts';
import { checkClientDelta, checkSeen } from './input-checks.ts';
import type { AggregateInput } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';

export interface StreamedMean {
  /** Sample-weighted mean delta (a fresh array the caller may reuse in place). */
  mean: Float32Array;
  /** Ids of every update folded in, in stream order. */
  used: string[];
}

/**
 * Sample-weighted mean of the round's deltas in one pass over input.deltas(), folding each delta into
 * a single accumulator as it arrives: memory O(model) however many clients took part. Nothing is kept
 * from a delta after its fold, so a producer may even reuse one buffer for every yield.
 */
export async function streamWeightedMean(input: AggregateInput): Promise<StreamedMean> {
  const params = input.base.length;
  const acc = new Float32Array(params);
  const used: string[] = [];
  let total = 0;
  for await (const d of input.deltas()) {
    checkClientDelta(d, params);
    foldWeighted(acc, d.delta, d.numSamples);
    total += d.numSamples;
    used.push(d.id);
  }
  checkSeen(used.length, input.count);
  if (total === 0) throw new StrategyError('NO_SAMPLES', `all ${used.length} updates report 0 samples`);
  divideInPlace(acc, total);
  return { mean: acc, used };
}
