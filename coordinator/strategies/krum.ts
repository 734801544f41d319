import type { StrategyConfig } from '../../protocol/index.ts';
import { addInPlace, multiKrumSelect, weightedMean } from './aggregate-math.ts';
import { collectDeltas } from './collect-deltas.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';

export type KrumConfig = Extract<StrategyConfig, { name: 'krum' }>;

/**
 * Multi-Krum (Blanchard et al. 2017): keep the `select` updates with the lowest Krum scores, tolerating
 * up to `byzantine` arbitrary ones, and average the kept ones weighted by sample count. select = 1 is
 * plain Krum.
 */
export class KrumStrategy implements Strategy {
  readonly name = 'krum' as const;
  readonly byzantine: number;
  readonly select: number;

  constructor(config: Omit<KrumConfig, 'name'>) {
    if (!Number.isInteger(config.byzantine) || config.byzantine < 0) throw new StrategyError('BAD_CONFIG', `byzantine must be a non-negative integer, got ${config.byzantine}`);
    if (!Number.isInteger(config.select) || config.select < 1) throw new StrategyError('BAD_CONFIG', `select must be a positive integer, got ${config.select}`);
    this.byzantine = config.byzantine;
    this.select = config.select;
  }

  /** Next weights = base + sample-weighted mean of the selected deltas; `used` lists those, in input order. */
  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const deltas = await collectDeltas(input);
    // Selection comes back best-first; averaging in input order keeps the summation order, and hence
    // the bytes, independent of how the scores happened to rank.
    const chosen = multiKrumSelect(
      deltas.map((d) => d.delta),
      this.byzantine,
      this.select,
    ).sort((a, b) => a - b);
    const kept = chosen.map((i) => deltas[i]!);
    const agg = weightedMean(
      kept.map((d) => d.delta),
      kept.map((d) => d.numSamples),
    );
    addInPlace(agg, input.base);
    return { weights: agg, serverState: copyServerState(input.serverState), used: kept.map((d) => d.id) };
  }
}
