import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.ts';

/** An incoming x-request-id is kept only when it looks like an id (it ends up in logs). */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives every request an id (the caller's x-request-id when sane, else a UUID), echoes it in the
 * response, and logs one structured line per request when it finishes: method, route, status, ms,
 * and the task and round when the path names them, so a round's requests can be found in the logs.
 */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    const reqId = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', reqId);
    const t0 = performance.now();
    res.on('finish', () => {
      const m = /^\/v1\/tasks\/(\d+)(?:\/rounds\/(\d+))?/.exec(req.path);
      const line = {
        reqId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round((performance.now() - t0) * 10) / 10,
        ...(m ? { task: Number(m[1]), ...(m[2] ? { round: Number(m[2]) } : {}) } : {}),
      };
      if (res.statusCode >= 500) log.error(line, 'request');
      else if (req.path === '/v1/health' || req.path === '/metrics') log.trace(line, 'request');
      // Changes at info; reads (dashboards poll) at debug.
      else if (req.method === 'GET' || req.method === 'HEAD') log.debug(line, 'request');
      else log.info(line, 'request');
    });
    next();
  };
}
