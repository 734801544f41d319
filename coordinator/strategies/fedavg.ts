import { addInPlace } from './aggregate-math.ts';
import { copyServerState } from './server-state.ts';
import type { AggregateInput, AggregateResult, Strategy } from './strategy.ts';
import { streamWeightedMean } from './streaming-mean.ts';

/**
 * FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized
 * Data"): next weights = base + sample-weighted mean of the client deltas. Streams the deltas, so memory
 * stays O(model) regardless of the number of clients.
 */
export class FedAvgStrategy implements Strategy {
  readonly name = 'fedavg' as const;

  /** One pass over the deltas; the mean's buffer becomes the new weights (no second model-sized array). */
  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    const { mean, used } = await streamWeightedMean(input);
    addInPlace(mean, input.base);
    return { weights: mean, serverState: copyServerState(input.serverState), used };
  }
}
