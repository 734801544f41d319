import { timingSafeEqual, createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors.ts';

/**
 * Bearer-token guard for operator routes. Fails closed: with no ADMIN_TOKEN configured, no request
 * is an admin. Compares digests in constant time so the token cannot be guessed byte by byte.
 */
export function requireAdmin(token: string | undefined) {
  const expected = token ? createHash('sha256').update(token).digest() : null;
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!expected) return next(new AppError('ADMIN_DISABLED', 401, 'admin routes are disabled: the coordinator has no ADMIN_TOKEN'));
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return next(new AppError('UNAUTHORIZED', 401, 'missing bearer token'));
    const got = createHash('sha256').update(m[1] as string).digest();
    if (!timingSafeEqual(got, expected)) return next(new AppError('UNAUTHORIZED', 401, 'wrong admin token'));
    next();
  };
}
