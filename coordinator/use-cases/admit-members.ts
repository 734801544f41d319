import { AdmitMembersBody, type MembersList } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';

async function privateTask(ctx: CoordinatorContext, task: number) {
  const t = await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  if (t.privacy !== 'private') throw new AppError('NOT_PRIVATE', 409, `task ${task} is public: its clients register wallets instead (POST /v1/tasks/${task}/clients)`);
  return t;
}

/** Admits identity commitments to a private task's members tree (admin only); duplicates are skipped. */
export async function admitMembers(ctx: CoordinatorContext, task: number, body: unknown): Promise<{ task: number; admitted: number; count: number; root: string }> {
  const b = parseOr400(AdmitMembersBody, body, 'members');
  await privateTask(ctx, task);
  // Canonical decimal (the schema forbids leading zeros), so equal commitments are equal strings.
  let r: { admitted: number; count: number };
  try {
    r = await ctx.members.admit(task, b.commitments);
  } catch (e) {
    if (/MEMBERS_FULL/.test((e as Error).message)) throw new AppError('MEMBERS_FULL', 409, `task ${task} has reached the members tree's capacity`);
    throw e;
  }
  const root = await ctx.membersTrees.rootOf(task, r.count);
  ctx.log.info({ task, admitted: r.admitted, count: r.count, root }, 'members admitted');
  return { task, admitted: r.admitted, count: r.count, root };
}

/** Every admitted commitment in order: clients rebuild the tree from it for their Merkle paths. */
export async function listMembers(ctx: CoordinatorContext, task: number): Promise<MembersList> {
  await privateTask(ctx, task);
  const count = await ctx.members.count(task);
  const commitments = await ctx.members.range(task, 0, count);
  return { task, count, root: count > 0 ? await ctx.membersTrees.rootOf(task, count) : null, commitments };
}
