import { ProtocolError } from '../../protocol/errors.ts';
import { decodeValidationSet } from '../../protocol/scoring/validation-set.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError } from '../errors.ts';

/** Largest validation set body accepted: 10,000 samples of a 28x28x3 input, with room to spare. */
export const MAX_VALIDATION_BYTES = 100 * 1024 * 1024;

/**
 * Stores a validation set (protocol/scoring/validation-set.ts bytes) under its keccak256, after
 * checking it parses. A task then names it in rewards.validation; from then on it is public
 * (GET /v1/validation-sets/:hash), because the auditor must score with the same samples.
 */
export async function putValidationSet(ctx: CoordinatorContext, bytes: Uint8Array): Promise<{ hash: string; samples: number; features: number; classes: number }> {
  let set;
  try {
    set = decodeValidationSet(bytes);
  } catch (e) {
    if (e instanceof ProtocolError) throw new AppError('BAD_VALIDATION_SET', 400, e.message);
    throw e;
  }
  const hash = await ctx.store.put('validation', bytes);
  ctx.log.info({ hash, samples: set.n }, 'validation set stored');
  return { hash, samples: set.n, features: set.features, classes: set.classes };
}
