import type { StrategyConfig } from '../../protocol/index.ts';
import { ClipStrategy } from './clip.ts';
import { DpStrategy } from './dp.ts';
import { FedAdamStrategy, FedYogiStrategy } from './fedadam.ts';
import { FedAvgMStrategy } from './fedavgm.ts';
import { FedAvgStrategy } from './fedavg.ts';
import { KrumStrategy } from './krum.ts';
import { MedianStrategy } from './median.ts';
import type { Strategy } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';
import { TrimmedMeanStrategy } from './trimmed-mean.ts';

export * from './strategy.ts';
export * from './strategy-error.ts';
export * from './aggregate-math.ts';
export { FedAvgStrategy } from './fedavg.ts';
export { FedAdamStrategy, FedYogiStrategy, FEDADAM_STATE, type FedAdamConfig, type FedYogiConfig } from './fedadam.ts';
export { FedAvgMStrategy, FEDAVGM_STATE, type FedAvgMConfig } from './fedavgm.ts';
export { MedianStrategy } from './median.ts';
export { TrimmedMeanStrategy, type TrimmedMeanConfig } from './trimmed-mean.ts';
export { KrumStrategy, type KrumConfig } from './krum.ts';
export { streamWeightedMean, type StreamedMean } from './streaming-mean.ts';
export { collectDeltas } from './collect-deltas.ts';
export { copyServerState } from './server-state.ts';
export { ClipStrategy, clipToNorm, l2Norm } from './clip.ts';
export { DpStrategy, dpNoiseSeed } from './dp.ts';

/** The strategy a task's (already schema-parsed) config names, with its wrappers (clipping) around it. */
export function createStrategy(config: StrategyConfig): Strategy {
  let s = createRule(config);
  if (config.clip) s = new ClipStrategy(s, config.clip.maxNorm);
  if (config.name === 'fedavg' && config.dp) s = new DpStrategy(s, config.dp);
  return s;
}

function createRule(config: StrategyConfig): Strategy {
  switch (config.name) {
    case 'fedavg':
      return new FedAvgStrategy();
    case 'fedavgm':
      return new FedAvgMStrategy(config);
    case 'fedadam':
      return new FedAdamStrategy(config);
    case 'fedyogi':
      return new FedYogiStrategy(config);
    case 'median':
      return new MedianStrategy();
    case 'trimmed-mean':
      return new TrimmedMeanStrategy(config);
    case 'krum':
      return new KrumStrategy(config);
    default: {
      // Exhaustiveness: adding a strategy to the schema without a case here is a compile error.
      const unknown: never = config;
      throw new StrategyError('BAD_CONFIG', `unknown strategy ${(unknown as { name: string }).name}`);
    }
  }
}
