import { createHash } from 'node:crypto';
import cors from 'cors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { isCluster, masters, type RedisClient } from '../infra/redis-connection.ts';
import { RedisStore, type RedisReply, type SendCommandClusterDetails } from 'rate-limit-redis';
import { AppError } from '../errors.ts';
import type { RedisKeys } from '../store/redis-keys.ts';
import type { Logger } from '../logger.ts';

/** What the HTTP layer guards with; absent limits are off (tests and benchmarks build configs by hand). */
export interface ProtectionOptions {
  /** Origins allowed to call the API from a browser; empty or absent: no CORS headers at all. */
  corsOrigins?: readonly string[];
  /** Requests per minute from one IP over every route (0 or absent: no limit). */
  perIpPerMinute?: number;
  /** Uploads and registrations per minute by one client (address or nullifier; else its IP). */
  perClientPerMinute?: number;
}

/**
 * Security headers. The API serves JSON and bytes; the one HTML page (the dashboard) loads only
 * same-origin scripts and styles, so the policy can forbid everything else.
 */
export function securityHeaders(corsEnabled: boolean): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    // Content-addressed documents may be fetched by other origins only when CORS says so.
    crossOriginResourcePolicy: { policy: corsEnabled ? 'cross-origin' : 'same-origin' },
  });
}

/** CORS for the configured origins only; null (no middleware, no headers) when none is configured. */
export function corsFor(origins: readonly string[] | undefined): RequestHandler | null {
  if (!origins?.length) return null;
  const allowed = new Set(origins);
  return cors({
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT'],
    allowedHeaders: ['content-type', 'authorization', 'x-request-id', 'x-fl-client', 'x-fl-base-hash', 'x-fl-update-hash', 'x-fl-num-samples', 'x-fl-signature', 'x-fl-nullifier', 'x-fl-proof'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
  });
}

const passThrough: RequestHandler = (_req, _res, next) => next();

/** Who a request says it is, for the per-client limit: the update's sender or the registering address. */
function clientKey(req: Request): string {
  const h = req.headers['x-fl-client'] ?? req.headers['x-fl-nullifier'];
  if (typeof h === 'string' && /^0x[0-9a-fA-F]{40,64}$/.test(h)) return `c:${h.toLowerCase()}`;
  const a = (req.body as { address?: unknown } | undefined)?.address;
  if (typeof a === 'string' && /^0x[0-9a-fA-F]{40}$/.test(a)) return `c:${a.toLowerCase()}`;
  return `ip:${ipKeyGenerator(req.ip ?? '')}`;
}

/**
 * The store's commands on a cluster. Its counters go where their key's slot is (ioredis routes
 * EVALSHA and DECR by key), but SCRIPT LOAD names no key and would land on a random node, leaving
 * the others to answer NOSCRIPT: load it on every master instead. The SHA is computed here, as
 * Redis would: the store keeps the first answer for good, so a load that fails (a node down, the
 * topology not known yet) must not poison it; the next EVALSHA then meets NOSCRIPT, and the
 * store's retry loads again through this (also after a failover to a replica without the script).
 */
async function sendOnCluster(redis: RedisClient, [command, ...args]: string[]): Promise<RedisReply> {
  if (command!.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
    await Promise.allSettled(masters(redis).map((n) => n.call(command!, ...args)));
    return createHash('sha1').update(args[1]).digest('hex');
  }
  return redis.call(command!, ...args) as Promise<RedisReply>;
}

/**
 * Rate limits counted in Redis (rate-limit-redis), so every coordinator replica sharing the Redis
 * and prefix shares the counts. A Redis outage lets requests through (logged): the routes behind the
 * limits need Redis anyway and answer 503 or retry on their own.
 */
export function rateLimits(redis: RedisClient, keys: RedisKeys, o: ProtectionOptions, log: Logger): { perIp: RequestHandler; perClient: RequestHandler } {
  const make = (name: string, limit: number | undefined, key?: (req: Request) => string): RequestHandler => {
    if (!limit) return passThrough;
    return rateLimit({
      windowMs: 60_000,
      limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      passOnStoreError: true,
      ...(key ? { keyGenerator: key } : {}),
      store: new RedisStore({
        prefix: keys.rateLimit(name),
        ...(isCluster(redis)
          ? { sendCommandCluster: (d: SendCommandClusterDetails) => sendOnCluster(redis, d.command) }
          : { sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply> }),
      }),
      handler: (req: Request, _res: Response, next: NextFunction) => {
        log.warn({ limit: name, ip: req.ip, path: req.path }, 'rate limited');
        next(new AppError('RATE_LIMITED', 429, `too many requests (${name} limit: ${limit} per minute); retry after the Retry-After header's seconds`));
      },
    });
  };
  return { perIp: make('ip', o.perIpPerMinute), perClient: make('client', o.perClientPerMinute, clientKey) };
}
