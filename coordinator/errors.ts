/** The coordinator's one error type: a stable code, the HTTP status it maps to, and safe details. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', 404, `${what} not found`);
export const badRequest = (message: string, details?: unknown) => new AppError('BAD_REQUEST', 400, message, details);
export const conflict = (code: string, message: string) => new AppError(code, 409, message);

/** Why the worker refused an update; recorded on the round and never retried. */
export type RejectionCode =
  | 'BAD_PAYLOAD'
  | 'UNKNOWN_TASK'
  | 'UNKNOWN_ROUND'
  | 'ROUND_CLOSED'
  | 'ROUND_FULL'
  | 'UNKNOWN_CLIENT'
  | 'BAD_SIGNATURE'
  | 'BAD_PROOF'
  | 'WRONG_MODE'
  | 'WRONG_BASE'
  | 'BAD_SAMPLES'
  | 'DUPLICATE'
  | 'BLOB_MISSING'
  | 'BAD_BLOB'
  | 'OVERSIZED'
  | 'BAD_LENGTH'
  | 'HASH_MISMATCH'
  | 'NON_FINITE'
  | 'BAD_ENCODING'
  | 'NORM_TOO_LARGE'
  | 'NOT_SHARED'
  | 'STALE';

export class UpdateRejected extends Error {
  constructor(
    readonly code: RejectionCode,
    readonly reason: string,
  ) {
    super(`${code}: ${reason}`);
    this.name = 'UpdateRejected';
  }
}
