import { keccak256, toUtf8Bytes } from 'ethers';
import { Prng, type DpConfig } from '../../protocol/index.ts';
import { clipToNorm } from './clip.ts';
import type { AggregateInput, AggregateResult, ClientDelta, Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';

/**
 * The noise seed of a round: public (task, round, base checkpoint), so the auditor's re-aggregation
 * draws the same noise and reproduces the checkpoint bit for bit. The price: whoever knows the seed
 * can subtract the noise, so this protects against nobody who reads this code. A deployment that
 * needs the guarantee must draw the noise from a secret seed it commits to before the round and
 * reveals after (see docs/robustness.md); the accounting below is the same either way.
 */
export function dpNoiseSeed(task: number, round: number, baseHash: string): number {
  return Number.parseInt(keccak256(toUtf8Bytes(`verifiable-fl/dp-noise/${task}/${round}/${baseHash.toLowerCase()}`)).slice(2, 10), 16);
}

/**
 * DP-FedAvg on the server (McMahan et al., "Learning Differentially Private Recurrent Language
 * Models", ICLR 2018): every update is clipped to L2 norm C, the inner (sample-weighted) mean is
 * taken, and Gaussian noise is added to it with std z·Δ per coordinate, where Δ is the mean's L2
 * sensitivity to one client: replacing one client's clipped update (norm ≤ C) by another moves the
 * mean by at most 2C·w_max / Σw (w = sample counts; the bound we assume and record). The privacy
 * spent is accounted in protocol/dp-accountant.ts.
 */
export class DpStrategy implements Strategy {
  readonly name: Strategy['name'];
  constructor(
    private readonly inner: Strategy,
    private readonly dp: DpConfig,
  ) {
    this.name = inner.name;
  }

  async aggregate(input: AggregateInput): Promise<AggregateResult> {
    if (!input.round) throw new StrategyError('BAD_CONFIG', 'differential privacy needs the round (task, round, base hash) to seed its noise');
    const { clipNorm, noiseMultiplier } = this.dp;
    let total = 0;
    let largest = 0;
    const deltas = () =>
      (async function* () {
        total = 0;
        largest = 0;
        for await (const d of input.deltas()) {
          total += d.numSamples;
          largest = Math.max(largest, d.numSamples);
          yield { ...d, delta: clipToNorm(d.delta, clipNorm) } satisfies ClientDelta;
        }
      })();
    const result = await this.inner.aggregate({ ...input, deltas });
    if (!(total > 0)) throw new StrategyError('NO_SAMPLES', 'no samples to weigh');
    const std = (noiseMultiplier * 2 * clipNorm * largest) / total;
    const rng = new Prng(dpNoiseSeed(input.round.task, input.round.round, input.round.baseHash));
    const weights = new Float32Array(result.weights.length);
    for (let i = 0; i < weights.length; i++) weights[i] = result.weights[i]! + std * rng.normal();
    return { ...result, weights };
  }
}
