import { addInPlace, coordinateMedian } from './aggregate-math.ts';
import { collectDeltas } from './collect-deltas.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';

/**
 * Coordinate-wise median (Yin et al. 2018): robust to a minority of arbitrary updates. Unweighted by
 * design: weighting by self-reported sample counts would hand the outcome to whoever claims the most.
 */
export class MedianStrategy implements Strategy {
  readonly name = 'median' as const;

  /** Next weights = base + per-coordinate median of all deltas; every update counts as used. */
  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const deltas = await collectDeltas(input);
    const agg = coordinateMedian(deltas.map((d) => d.delta));
    addInPlace(agg, input.base);
    return { weights: agg, serverState: copyServerState(input.serverState), used: deltas.map((d) => d.id) };
  }
}
