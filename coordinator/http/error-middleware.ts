import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.ts';
import { AppError } from '../errors.ts';

/** Maps every error to a JSON body with a code; internals stay in the log, never in the response. */
export function errorMiddleware(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof AppError && err.code === 'STORE_UNAVAILABLE') {
      // Its message names the bucket and the storage endpoint, which may be internal: the operator
      // reads it in the log; a caller learns only to try again later.
      log.error({ err: err.message, path: req.path, method: req.method }, 'content store unavailable');
      res.status(err.status).json({ error: { code: err.code, message: 'the content store cannot be reached; try again later' } });
      return;
    }
    if (err instanceof AppError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } });
      return;
    }
    // body-parser's own errors (bad JSON, too large) carry a 4xx status and a type.
    const e = err as { status?: number; type?: string; message?: string };
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      const code = e.type === 'entity.parse.failed' ? 'BAD_JSON' : e.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
      res.status(e.status).json({ error: { code, message: code === 'BAD_JSON' ? 'body is not valid JSON' : (e.message ?? 'bad request') } });
      return;
    }
    log.error({ err, path: req.path, method: req.method }, 'unhandled error');
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
  };
}
