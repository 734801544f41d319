import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { RoundNo, TaskId, type Round } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { reportRepo } from '../store/report-repo.ts';
import { latestAudit, listEvaluations, recordAudit, recordEvaluation } from '../use-cases/reports.ts';
import { parseOr400 } from '../use-cases/parse.ts';

/**
 * The operator's dashboard (a static page under /dashboard/, no build step) and the read models it
 * needs: round summaries, reported evaluations and audits, and a server-sent event stream per task.
 * The stream polls Redis rather than listening to this process, so it shows rounds that another
 * replica or a separate worker moves along.
 */

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'dashboard');
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

/** At most this many rounds in a timeline reply (the newest ones). */
export const MAX_TIMELINE_ROUNDS = 200;

const TaskParams = z.object({ task: TaskId });
const RoundParams = z.object({ task: TaskId, round: RoundNo });

/** A round without its update lists: what a timeline row shows. */
export function roundSummary(r: Round) {
  return {
    round: r.round,
    state: r.state,
    openedAt: r.openedAt,
    deadline: r.deadline,
    closedAt: r.closedAt,
    minClients: r.minClients,
    maxClients: r.maxClients,
    received: r.received,
    accepted: r.accepted,
    rejected: r.rejected,
    checkpointHash: r.checkpointHash,
    manifestHash: r.manifestHash,
    reward: r.reward,
    failureReason: r.failureReason,
    commit: r.commit,
    commitError: r.commitError,
  };
}
export type RoundSummary = ReturnType<typeof roundSummary>;

export interface DashboardOptions {
  admin: RequestHandler;
  json: RequestHandler;
  /** How often an event stream re-reads its task (ms). */
  eventIntervalMs?: number;
}

type Handler = (req: Request, res: Response) => Promise<void>;
const route = (h: Handler) => (req: Request, res: Response, next: NextFunction) => h(req, res).catch(next);

export function mountDashboard(app: express.Express, ctx: CoordinatorContext, opts: DashboardOptions): void {
  const reports = reportRepo(ctx.redis, ctx.keys);
  const interval = opts.eventIntervalMs ?? 1000;

  async function timeline(task: number): Promise<RoundSummary[]> {
    const t = await ctx.tasks.get(task);
    if (!t) throw notFound(`task ${task}`);
    const first = Math.max(1, t.lastRound - MAX_TIMELINE_ROUNDS + 1);
    const rounds: RoundSummary[] = [];
    for (let n = first; n <= t.lastRound; n++) {
      const r = await ctx.rounds.get(task, n);
      if (r) rounds.push(roundSummary(r));
    }
    return rounds;
  }

  app.get('/', (_req, res) => res.redirect(302, '/dashboard/'));
  app.use('/dashboard/vendor', express.static(UPLOT_DIR, { index: false, maxAge: '1d' }));
  app.use('/dashboard', express.static(PAGE_DIR, { index: 'index.html' }));

  app.get('/v1/tasks/:task/rounds', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.json({ rounds: await timeline(task) });
  }));
  app.post('/v1/tasks/:task/rounds/:round/evaluation', opts.admin, opts.json, route(async (req, res) => {
    const { task, round } = parseOr400(RoundParams, req.params, 'path');
    res.status(201).json(await recordEvaluation(ctx, reports, task, round, req.body));
  }));
  app.get('/v1/tasks/:task/evaluations', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.json(await listEvaluations(ctx, reports, task));
  }));
  app.post('/v1/tasks/:task/audit', opts.admin, opts.json, route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.status(201).json(await recordAudit(ctx, reports, task, req.body));
  }));
  app.get('/v1/tasks/:task/audit', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    res.json(await latestAudit(ctx, reports, task));
  }));

  // Server-sent events: `snapshot` once, then `round` whenever the newest round changes and `reports`
  // whenever an evaluation or audit arrives. Comments keep proxies from closing an idle stream.
  app.get('/v1/tasks/:task/events', route(async (req, res) => {
    const { task } = parseOr400(TaskParams, req.params, 'path');
    if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let lastRound = '';
    let lastReports = '';
    let beats = 0;
    let busy = false;
    const digest = (v: unknown) => createHash('sha1').update(JSON.stringify(v)).digest('hex');
    const poll = async (first: boolean) => {
      if (busy) return;
      busy = true;
      try {
        const t = await ctx.tasks.get(task);
        const r = t && t.lastRound > 0 ? await ctx.rounds.get(task, t.lastRound) : null;
        const summary = r ? roundSummary(r) : null;
        const rep = { evaluations: await reports.evaluations(task), audit: await reports.audit(task) };
        const dr = digest(summary);
        const dp = digest(rep);
        if (first) send('snapshot', { round: summary, ...rep });
        else {
          if (dr !== lastRound) send('round', summary);
          if (dp !== lastReports) send('reports', rep);
          if (++beats % 15 === 0) res.write(': keep-alive\n\n');
        }
        lastRound = dr;
        lastReports = dp;
      } catch (err) {
        // A Redis hiccup: say so on the stream and try again next tick.
        ctx.log.warn({ err, task }, 'event stream poll failed');
        send('error', { code: 'UNAVAILABLE', message: 'state could not be read; retrying' });
      } finally {
        busy = false;
      }
    };
    await poll(true);
    const timer = setInterval(() => void poll(false), interval);
    req.on('close', () => clearInterval(timer));
  }));
}
