import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { RoundNo, TaskId } from '../../protocol/index.ts';
import type { ChainInfo } from '../chain/chain-info.ts';
import type { CoordinatorContext } from '../context.ts';
import type { ContentKind } from '../store/content-store.ts';
import { AppError, notFound } from '../errors.ts';
import { admitMembers, listMembers } from '../use-cases/admit-members.ts';
import { createTask } from '../use-cases/create-task.ts';
import { openRound } from '../use-cases/open-round.ts';
import { parseOr400 } from '../use-cases/parse.ts';
import { registerClient } from '../use-cases/register-client.ts';
import { issueRegistrationChallenge } from '../use-cases/registration-challenge.ts';
import { submitHttpUpdate } from '../use-cases/submit-http-update.ts';
import { secureRoundState, submitSecureMessage } from '../use-cases/secure-messages.ts';
import { requireAdmin } from './admin-auth.ts';
import { MAX_VALIDATION_BYTES, putValidationSet } from '../use-cases/validation-sets.ts';
import { errorMiddleware } from './error-middleware.ts';
import { renderMetrics } from '../metrics.ts';
import type { CeremonyHost } from '../use-cases/ceremony-host.ts';
import { mountCeremony } from './ceremony-routes.ts';
import { mountDashboard } from './dashboard.ts';
import { mountJoinPage } from './join-page.ts';
import { corsFor, rateLimits, securityHeaders, type ProtectionOptions } from './protection.ts';
import { requestLog } from './request-log.ts';
import { buildOpenApi } from './openapi.ts';
import { bodyPool, readRawBody } from './raw-body.ts';

export interface AppOptions {
  adminToken: string | undefined;
  /** Published at GET /v1/chain; null when the coordinator runs without a chain. */
  chain?: ChainInfo | null;
  /** CORS origins and rate limits (absent: CORS off, no limits). */
  protection?: ProtectionOptions;
  /** Express "trust proxy" (a hop count, a subnet list, or loopback); absent: not behind a proxy. */
  trustProxy?: string;
  /** Lifetime of a registration challenge in seconds (default 300). */
  challengeTtlSeconds?: number;
  /** The setup ceremony this coordinator hosts (<DATA_DIR>/ceremony); absent: the /v1/ceremony routes answer 404. */
  ceremony?: CeremonyHost;
}

type Handler = (req: Request, res: Response) => Promise<void>;
/** Express 5 forwards rejected promises to the error middleware; this keeps handlers typed and short. */
const route = (h: Handler) => (req: Request, res: Response, next: NextFunction) => h(req, res).catch(next);

const TaskParams = z.object({ task: TaskId });
const RoundParams = z.object({ task: TaskId, round: RoundNo });
const HashParams = z.object({ hash: z.string().regex(/^0x[0-9a-f]{64}$/, 'a lowercase 0x-prefixed 32-byte hex hash') });

/** The REST API: thin routes over the use-cases. */
export function createApp(ctx: CoordinatorContext, opts: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  if (opts.trustProxy) app.set('trust proxy', /^\d+$/.test(opts.trustProxy) ? Number(opts.trustProxy) : opts.trustProxy);
  app.use(requestLog(ctx.log));
  const protection = opts.protection ?? {};
  const corsMiddleware = corsFor(protection.corsOrigins);
  app.use(securityHeaders(corsMiddleware !== null));
  if (corsMiddleware) app.use(corsMiddleware);
  const limits = rateLimits(ctx.redis, ctx.keys, protection, ctx.log);
  // Delta uploads are read into reused buffers (raw-body.ts: fresh 4 MB per upload was page faults and GC).
  const uploadBodies = bodyPool();
  app.use(limits.perIp);
  const admin = requireAdmin(opts.adminToken);
  const json = express.json({ limit: '1mb' });
  const openapi = buildOpenApi();

  app.get('/v1/health', route(async (_req, res) => {
    const redis = await ctx.redis.ping().then(() => 'up', () => 'down');
    res.status(redis === 'up' ? 200 : 503).json({ status: redis === 'up' ? 'ok' : 'degraded', redis });
  }));
  // Prometheus text format; counts only, nothing secret (README, "Metrics and logs").
  app.get('/metrics', route(async (_req, res) => {
    const m = await renderMetrics(ctx);
    res.setHeader('content-type', m.contentType);
    res.end(m.body);
  }));
  app.get('/v1/openapi.json', (_req, res) => void res.json(openapi));
  app.get('/v1/chain', route(async (_req, res) => {
    if (!opts.chain) throw new AppError('NO_CHAIN', 404, 'this coordinator runs without a chain');
    res.json(opts.chain);
  }));

  app.post('/v1/tasks', admin, json, route(async (req, res) => {
    res.status(201).json(await createTask(ctx, req.body));
  }));
  app.get('/v1/tasks', route(async (_req, res) => {
    res.json({ tasks: await ctx.tasks.list() });
  }));
  app.get('/v1/tasks/:task', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    const t = await ctx.tasks.get(task);
    if (!t) throw notFound(`task ${task}`);
    res.json(t);
  }));
  app.post('/v1/tasks/:task/clients/challenge', json, limits.perClient, route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.status(201).json(await issueRegistrationChallenge(ctx, task, req.body, opts.challengeTtlSeconds));
  }));
  app.post('/v1/tasks/:task/clients', json, limits.perClient, route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    const r = await registerClient(ctx, task, req.body);
    res.status(r.created ? 201 : 200).json(r);
  }));
  app.post('/v1/tasks/:task/members', admin, json, route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.json(await admitMembers(ctx, task, req.body));
  }));
  app.get('/v1/tasks/:task/members', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.json(await listMembers(ctx, task));
  }));
  app.post('/v1/tasks/:task/rounds', admin, json, route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.status(201).json(await openRound(ctx, task, req.body ?? {}));
  }));
  app.get('/v1/tasks/:task/rounds/current', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    const t = await ctx.tasks.get(task);
    if (!t) throw notFound(`task ${task}`);
    if (t.lastRound === 0) throw new AppError('NO_ROUND', 404, `task ${task} has no round yet`);
    res.json(await ctx.rounds.get(task, t.lastRound));
  }));
  app.get('/v1/tasks/:task/rounds/:round', route(async (req, res) => {
    const { task, round } = parseOr400(RoundParams, req.params, 'path');
    const r = await ctx.rounds.get(task, round);
    if (!r) throw notFound(`round ${round} of task ${task}`);
    res.json(r);
  }));
  app.put('/v1/tasks/:task/rounds/:round/updates', limits.perClient, route(async (req, res) => {
    const { task, round } = parseOr400(RoundParams, req.params, 'path');
    const t = await ctx.tasks.get(task);
    if (!t) throw notFound(`task ${task}`);
    if (!/^application\/octet-stream\b/.test(req.headers['content-type'] ?? '')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 415, 'send the delta as application/octet-stream');
    }
    let body: Uint8Array | undefined;
    const accepted = await submitHttpUpdate(ctx, task, round, req.headers, async (max) => (body = await readRawBody(req, max, uploadBodies)), t);
    // Stored and hashed by now: the buffer can take the next upload. (After a refusal or a fault it is dropped.)
    if (body) uploadBodies.give(body);
    res.status(202).json(accepted);
  }));
  // Secure rounds (docs/secure-mode.md): the protocol's state, and its four signed messages.
  app.get('/v1/tasks/:task/rounds/:round/secure', route(async (req, res) => {
    const { task, round } = parseOr400(RoundParams, req.params, 'path');
    res.json(await secureRoundState(ctx, task, round));
  }));
  for (const kind of ['keys', 'shares', 'consistency', 'reveal'] as const) {
    app.post(`/v1/tasks/:task/rounds/:round/secure/${kind}`, json, limits.perClient, route(async (req, res) => {
      const { task, round } = parseOr400(RoundParams, req.params, 'path');
      res.status(202).json(await submitSecureMessage(ctx, task, round, kind, req.body));
    }));
  }
  // Content-addressed documents: the stored bytes as they are, so a client can hash what it got.
  // The bytes behind a hash never change, hence the immutable caching.
  const serveContent = (kind: ContentKind, what: string, contentType: string) =>
    route(async (req, res) => {
      const { hash } = parseOr400(HashParams, req.params, 'path');
      const bytes = await ctx.store.get(kind, hash);
      if (!bytes) throw notFound(`${what} ${hash}`);
      res.setHeader('content-type', contentType);
      res.setHeader('etag', `"${hash}"`);
      res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    });
  app.get('/v1/checkpoints/:hash', serveContent('checkpoints', 'checkpoint', 'application/octet-stream'));
  // Archived accepted deltas, so that anyone can re-run a round's aggregation.
  app.get('/v1/updates/:hash', serveContent('updates', 'update', 'application/octet-stream'));
  app.get('/v1/manifests/:hash', serveContent('manifests', 'manifest', 'application/json'));
  // Secure rounds' public protocol transcripts, from which anyone unmasks the sum again.
  app.get('/v1/transcripts/:hash', serveContent('transcripts', 'transcript', 'application/json'));
  // Validation sets of the validation-gain rule (docs/contribution-scores.md): public, so anyone re-scores.
  app.post('/v1/validation-sets', admin, route(async (req, res) => {
    if (!/^application\/octet-stream\b/.test(req.headers['content-type'] ?? '')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 415, 'send the validation set as application/octet-stream');
    res.status(201).json(await putValidationSet(ctx, await readRawBody(req, MAX_VALIDATION_BYTES)));
  }));
  app.get('/v1/validation-sets/:hash', serveContent('validation', 'validation set', 'application/octet-stream'));

  // The dashboard page and its read models (round timeline, reported evaluations and audits, events).
  mountDashboard(app, ctx, { admin, json });
  mountJoinPage(app, ctx, { rpcUrl: opts.chain?.rpcUrl });
  // The Groth16 setup ceremony the coordinator hosts: contributions pass through it, verified on arrival.
  mountCeremony(app, { host: opts.ceremony ?? null, admin, json, perClient: limits.perClient });

  app.use((req, _res, next) => next(new AppError('NOT_FOUND', 404, `no route ${req.method} ${req.path}`)));
  app.use(errorMiddleware(ctx.log));
  return app;
}
