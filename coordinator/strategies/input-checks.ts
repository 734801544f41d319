import type { ClientDelta } from './strategy.ts';
import { StrategyError } from './strategy-error.ts';

/** Rejects a delta whose shape or sample count would corrupt any aggregate. */
export function checkClientDelta(d: ClientDelta, params: number): void {
  if (d.delta.length !== params) {
    throw new StrategyError('SHAPE_MISMATCH', `update ${d.id} has ${d.delta.length} values, the model has ${params}`);
  }
  if (!Number.isSafeInteger(d.numSamples) || d.numSamples < 0) {
    throw new StrategyError('BAD_SAMPLES', `update ${d.id} reports ${d.numSamples} samples`);
  }
}

/** Rejects an empty round, and a stream whose length contradicts the count the caller announced. */
export function checkSeen(seen: number, announced: number): void {
  if (seen === 0) throw new StrategyError('NO_UPDATES', 'the round has no accepted updates');
  if (seen !== announced) throw new StrategyError('COUNT_MISMATCH', `input.count is ${announced} but deltas() yielded ${seen}`);
}
