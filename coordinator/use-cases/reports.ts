import { AuditSummary, RoundEvaluation, type StoredAudit, type StoredEvaluation } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import type { ReportRepo } from '../store/report-repo.ts';
import { parseOr400 } from './parse.ts';

/**
 * Records the operator's test-set evaluation of an aggregated round's checkpoint. Only a round with
 * a checkpoint can be evaluated; the stored record names that checkpoint, so a reader can re-check it.
 */
export async function recordEvaluation(ctx: CoordinatorContext, reports: ReportRepo, task: number, round: number, body: unknown): Promise<StoredEvaluation> {
  const e = parseOr400(RoundEvaluation, body, 'evaluation');
  const r = await ctx.rounds.get(task, round);
  if (!r) throw notFound(`round ${round} of task ${task}`);
  if (!r.checkpointHash) throw new AppError('NOT_AGGREGATED', 409, `round ${round} of task ${task} has no checkpoint yet (state ${r.state})`);
  const stored: StoredEvaluation = { ...e, round, checkpointHash: r.checkpointHash, reportedAt: new Date(ctx.now()).toISOString() };
  await reports.putEvaluation(task, stored);
  return stored;
}

export async function listEvaluations(ctx: CoordinatorContext, reports: ReportRepo, task: number): Promise<{ evaluations: StoredEvaluation[] }> {
  if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
  return { evaluations: await reports.evaluations(task) };
}

/** Records the summary of the latest fl-audit run of a task (the auditor's JSON report has the detail). */
export async function recordAudit(ctx: CoordinatorContext, reports: ReportRepo, task: number, body: unknown): Promise<StoredAudit> {
  const a = parseOr400(AuditSummary, body, 'audit summary');
  if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
  const stored: StoredAudit = { ...a, reportedAt: new Date(ctx.now()).toISOString() };
  await reports.putAudit(task, stored);
  return stored;
}

export async function latestAudit(ctx: CoordinatorContext, reports: ReportRepo, task: number): Promise<{ audit: StoredAudit | null }> {
  if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
  return { audit: await reports.audit(task) };
}
