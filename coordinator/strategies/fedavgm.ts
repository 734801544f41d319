import type { StrategyConfig } from '../../protocol/index.ts';
import { momentumServerStep, type MomentumHyperparameters } from './aggregate-math.ts';
import { stateTensor } from './fedadam.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';
import { streamWeightedMean } from './streaming-mean.ts';

export type FedAvgMConfig = Extract<StrategyConfig, { name: 'fedavgm' }>;

/** Name under which FedAvgM keeps its velocity in the checkpoint's ServerState. */
export const FEDAVGM_STATE = { velocity: 'u' } as const;

/**
 * FedAvgM: FedAvg's mean delta drives a server-side heavy-ball step (u = beta u + D, w = w + eta u).
 * Momentum carries the direction of earlier rounds, which damps the round-to-round swings that
 * label-skewed clients cause. The velocity u is in the checkpoint, so restarts and audits resume it.
 */
export class FedAvgMStrategy implements Strategy {
  readonly name = 'fedavgm' as const;
  private readonly hp: MomentumHyperparameters;

  constructor(config: Omit<FedAvgMConfig, 'name'>) {
    const { serverLr, momentum } = config;
    if (!(serverLr > 0 && Number.isFinite(serverLr))) throw new StrategyError('BAD_CONFIG', `serverLr must be positive, got ${serverLr}`);
    if (!(momentum >= 0 && momentum < 1)) throw new StrategyError('BAD_CONFIG', `momentum must be in [0, 1), got ${momentum}`);
    this.hp = { serverLr, momentum };
  }

  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const u = stateTensor(input.serverState, FEDAVGM_STATE.velocity, input.base.length, 0);
    const { mean, used } = await streamWeightedMean(input);
    const step = momentumServerStep(input.base, mean, u, this.hp);
    const serverState = copyServerState(input.serverState);
    serverState.tensors[FEDAVGM_STATE.velocity] = step.velocity;
    return { weights: step.weights, serverState, used };
  }
}
