import type { ServerState, StrategyConfig } from '../../protocol/index.ts';

/** One client's contribution as the strategy sees it: the delta (local - base) and its weight. */
export interface ClientDelta {
  /** Stable id of the update (its update hash); used to report which updates a strategy kept. */
  id: string;
  delta: Float32Array;
  numSamples: number;
}

export interface AggregateInput {
  /** Weights of the round's base checkpoint. Never modified. */
  base: Float32Array;
  /** Server-optimiser state carried in the base checkpoint. Never modified. */
  serverState: ServerState;
  /**
   * The accepted deltas in a fixed order (ascending client address), produced lazily so that
   * streaming strategies hold one delta at a time: memory O(model), not O(clients x model).
   * May be iterated more than once.
   */
  deltas: () => AsyncIterable<ClientDelta>;
  count: number;
  /**
   * Which round this is. Strategies that draw noise (dp.ts) seed it from these public values, so
   * anyone re-aggregating the round draws the same noise.
   */
  round?: { task: number; round: number; baseHash: string };
}

export interface AggregateResult {
  weights: Float32Array;
  serverState: ServerState;
  /** Ids of the updates that shaped the result (all for FedAvg, the selected ones for Krum). */
  used: string[];
}

/** A server-side aggregation rule. Implementations are deterministic: same input, same bytes. */
export interface Strategy {
  readonly name: StrategyConfig['name'];
  aggregate(input: AggregateInput): Promise<AggregateResult>;
}
