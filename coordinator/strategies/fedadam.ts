import type { ServerState, StrategyConfig } from '../../protocol/index.ts';
import { adamServerStep, yogiServerStep, type AdamHyperparameters, type AdamStepResult } from './aggregate-math.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';
import { streamWeightedMean } from './streaming-mean.ts';

export type FedAdamConfig = Extract<StrategyConfig, { name: 'fedadam' }>;
export type FedYogiConfig = Extract<StrategyConfig, { name: 'fedyogi' }>;

/** Names under which FedAdam and FedYogi keep their state in the checkpoint's ServerState. */
export const FEDADAM_STATE = { m: 'm', v: 'v', t: 't' } as const;

type AdaptiveStep = (w: Float32Array, g: Float32Array, moments: { m: Float32Array; v: Float32Array }, hp: AdamHyperparameters) => AdamStepResult;

/**
 * The adaptive server optimisers of Reddi et al. 2021 ("Adaptive Federated Optimization"): the
 * sample-weighted mean delta is a pseudo-gradient fed to a server-side Adam or Yogi step. The moments
 * m, v and step count t travel in the checkpoint's server state, so a restarted coordinator or an
 * auditor continues from the bytes alone.
 */
abstract class AdaptiveServerStrategy implements Strategy {
  abstract readonly name: 'fedadam' | 'fedyogi';
  private readonly hp: AdamHyperparameters;

  constructor(
    config: AdamHyperparameters,
    private readonly step: AdaptiveStep,
    /** v before the first round: 0 for Adam (as it always was here), tau^2 for Yogi (the paper's v_-1 >= tau^2). */
    private readonly v0: number,
  ) {
    const { serverLr, beta1, beta2, tau } = config;
    if (!(serverLr > 0 && Number.isFinite(serverLr))) throw new StrategyError('BAD_CONFIG', `serverLr must be positive, got ${serverLr}`);
    if (!(beta1 >= 0 && beta1 < 1)) throw new StrategyError('BAD_CONFIG', `beta1 must be in [0, 1), got ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1)) throw new StrategyError('BAD_CONFIG', `beta2 must be in [0, 1), got ${beta2}`);
    if (!(tau > 0 && Number.isFinite(tau))) throw new StrategyError('BAD_CONFIG', `tau must be positive, got ${tau}`);
    this.hp = { serverLr, beta1, beta2, tau };
  }

  /** Streaming mean as in FedAvg, then one server step; returns a new state and leaves the input's alone. */
  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const params = input.base.length;
    // Read (and validate) the state before streaming, so a corrupt checkpoint fails fast.
    const m = stateTensor(input.serverState, FEDADAM_STATE.m, params, 0);
    const v = stateTensor(input.serverState, FEDADAM_STATE.v, params, this.v0);
    const t = input.serverState.scalars[FEDADAM_STATE.t] ?? 0;
    if (!Number.isSafeInteger(t) || t < 0) throw new StrategyError('BAD_STATE', `${this.name} step count t is ${t}`);

    const { mean, used } = await streamWeightedMean(input);
    const step = this.step(input.base, mean, { m, v }, this.hp);

    // Unrelated state entries are carried over (copied), the optimiser's own are replaced.
    const serverState = copyServerState(input.serverState);
    serverState.tensors[FEDADAM_STATE.m] = step.m;
    serverState.tensors[FEDADAM_STATE.v] = step.v;
    serverState.scalars[FEDADAM_STATE.t] = t + 1;
    return { weights: step.weights, serverState, used };
  }
}

/** FedAdam: m = b1 m + (1-b1) D, v = b2 v + (1-b2) D^2, w = w + eta m / (sqrt v + tau). */
export class FedAdamStrategy extends AdaptiveServerStrategy {
  readonly name = 'fedadam' as const;
  constructor(config: Omit<FedAdamConfig, 'name'>) {
    super(config, adamServerStep, 0);
  }
}

/** FedYogi: as FedAdam with Yogi's additive second moment, v = v - (1-b2) D^2 sign(v - D^2). */
export class FedYogiStrategy extends AdaptiveServerStrategy {
  readonly name = 'fedyogi' as const;
  constructor(config: Omit<FedYogiConfig, 'name'>) {
    super(config, yogiServerStep, config.tau * config.tau);
  }
}

/** A state tensor; `fill` everywhere when absent (the first round), an error when mis-sized. */
export function stateTensor(state: ServerState, name: string, params: number, fill: number): Float32Array {
  const t = state.tensors[name];
  if (t === undefined) return new Float32Array(params).fill(fill);
  if (t.length !== params) throw new StrategyError('SHAPE_MISMATCH', `server state tensor ${name} has ${t.length} values, the model has ${params}`);
  return t;
}
