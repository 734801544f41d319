import type { z } from 'zod';
import { AppError } from '../errors.ts';

/** Parses untrusted input or throws a 400 that lists every problem by path. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    throw new AppError(
      'VALIDATION_FAILED',
      400,
      `invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
    );
  }
  return r.data;
}
