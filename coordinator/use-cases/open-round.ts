import { OpenRoundBody, TrainingConfig, type Round } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';

/** Opens the task's next round on its newest checkpoint; one round at a time per task. */
export async function openRound(ctx: CoordinatorContext, task: number, body: unknown): Promise<Round> {
  const b = parseOr400(OpenRoundBody, body ?? {}, 'round');
  const t = await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  const now = ctx.now();
  const deadlineMs = now + Math.round(b.durationSeconds * 1000);
  const r = await ctx.rounds.open(
    task,
    {
      openedAt: new Date(now).toISOString(),
      deadline: new Date(deadlineMs).toISOString(),
      minClients: b.minClients,
      maxClients: b.maxClients,
      training: TrainingConfig.parse({ ...t.training, ...b.training }),
      strategy: t.strategy,
    },
    deadlineMs,
  );
  if ('alreadyOpen' in r) throw new AppError('ROUND_ALREADY_OPEN', 409, `round ${r.alreadyOpen} of task ${task} is still running`);
  ctx.log.info({ task, round: r.round, base: r.baseHash, deadline: new Date(deadlineMs).toISOString() }, 'round opened');
  return (await ctx.rounds.get(task, r.round)) as Round;
}
