import type { ServerState, StrategyConfig } from '../../protocol/index.ts';
import { adamServerStep, type AdamHyperparameters } from './aggregate-math.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';
import { streamWeightedMean } from './streaming-mean.ts';

export type FedAdamConfig = Extract<StrategyConfig, { name: 'fedadam' }>;

/** Names under which FedAdam keeps its state in the checkpoint's ServerState. */
export const FEDADAM_STATE = { m: 'm', v: 'v', t: 't' } as const;

/**
 * FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization"): the sample-weighted mean delta is a
 * pseudo-gradient fed to a server-side Adam step. The moments m, v and step count t travel in the
 * checkpoint's server state, so a restarted coordinator or an auditor continues from the bytes alone.
 */
export class FedAdamStrategy implements Strategy {
  readonly name = 'fedadam' as const;
  private readonly hp: AdamHyperparameters;

  constructor(config: Omit<FedAdamConfig, 'name'>) {
    const { serverLr, beta1, beta2, tau } = config;
    if (!(serverLr > 0 && Number.isFinite(serverLr))) throw new StrategyError('BAD_CONFIG', `serverLr must be positive, got ${serverLr}`);
    if (!(beta1 >= 0 && beta1 < 1)) throw new StrategyError('BAD_CONFIG', `beta1 must be in [0, 1), got ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1)) throw new StrategyError('BAD_CONFIG', `beta2 must be in [0, 1), got ${beta2}`);
    if (!(tau > 0 && Number.isFinite(tau))) throw new StrategyError('BAD_CONFIG', `tau must be positive, got ${tau}`);
    this.hp = { serverLr, beta1, beta2, tau };
  }

  /** Streaming mean as in FedAvg, then one Adam step; returns a new state and leaves the input's alone. */
  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const params = input.base.length;
    // Read (and validate) the state before streaming, so a corrupt checkpoint fails fast.
    const m = stateTensor(input.serverState, FEDADAM_STATE.m, params);
    const v = stateTensor(input.serverState, FEDADAM_STATE.v, params);
    const t = input.serverState.scalars[FEDADAM_STATE.t] ?? 0;
    if (!Number.isSafeInteger(t) || t < 0) throw new StrategyError('BAD_STATE', `FedAdam step count t is ${t}`);

    const { mean, used } = await streamWeightedMean(input);
    const step = adamServerStep(input.base, mean, { m, v }, this.hp);

    // Unrelated state entries are carried over (copied), FedAdam's own are replaced.
    const serverState = copyServerState(input.serverState);
    serverState.tensors[FEDADAM_STATE.m] = step.m;
    serverState.tensors[FEDADAM_STATE.v] = step.v;
    serverState.scalars[FEDADAM_STATE.t] = t + 1;
    return { weights: step.weights, serverState, used };
  }
}

/** A moment tensor from the state; zeros when absent (the first round), an error when mis-sized. */
function stateTensor(state: ServerState, name: string, params: number): Float32Array {
  const t = state.tensors[name];
  if (t === undefined) return new Float32Array(params);
  if (t.length !== params) throw new StrategyError('SHAPE_MISMATCH', `server state tensor ${name} has ${t.length} values, the model has ${params}`);
  return t;
}
