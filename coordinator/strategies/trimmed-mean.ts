import type { StrategyConfig } from '../../protocol/index.ts';
import { addInPlace, trimmedMean } from './aggregate-math.ts';
import { collectDeltas } from './collect-deltas.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';

export type TrimmedMeanConfig = Extract<StrategyConfig, { name: 'trimmed-mean' }>;

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the floor(n x trimFraction)
 * extreme values at each end and average the rest. Unweighted, for the same reason as the median.
 */
export class TrimmedMeanStrategy implements Strategy {
  readonly name = 'trimmed-mean' as const;
  readonly trimFraction: number;

  constructor(config: Omit<TrimmedMeanConfig, 'name'>) {
    if (!(config.trimFraction >= 0 && config.trimFraction < 0.5)) {
      throw new StrategyError('BAD_CONFIG', `trimFraction must be in [0, 0.5), got ${config.trimFraction}`);
    }
    this.trimFraction = config.trimFraction;
  }

  /** Next weights = base + trimmed mean; every update counts as used (which values get trimmed varies by coordinate). */
  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const deltas = await collectDeltas(input);
    const agg = trimmedMean(
      deltas.map((d) => d.delta),
      this.trimFraction,
    );
    addInPlace(agg, input.base);
    return { weights: agg, serverState: copyServerState(input.serverState), used: deltas.map((d) => d.id) };
  }
}
