/** Why an aggregation could not run; a stable code the coordinator can record as the round's failure reason. */
export type StrategyErrorCode =
  /** The round has no accepted updates to aggregate. */
  | 'NO_UPDATES'
  /** The weights to average sum to zero (every kept update reports 0 samples). */
  | 'NO_SAMPLES'
  /** An update's sample count is negative, fractional or not finite. */
  | 'BAD_SAMPLES'
  /** Krum needs n > 2f + 2 updates and at least `select` of them. */
  | 'KRUM_TOO_FEW'
  /** A delta or server-state tensor does not have the model's parameter count. */
  | 'SHAPE_MISMATCH'
  /** `input.count` disagrees with what `input.deltas()` yielded. */
  | 'COUNT_MISMATCH'
  /** The server state carried in the base checkpoint is malformed (e.g. a fractional step count). */
  | 'BAD_STATE'
  /** A strategy parameter is out of range (the zod schema should already prevent this). */
  | 'BAD_CONFIG';

export class StrategyError extends Error {
  constructor(
    readonly code: StrategyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StrategyError';
  }
}
