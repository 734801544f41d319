import { OpenRoundBody, TrainingConfig, type Round } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';
import { MIN_SECURE_CLIENTS } from '../../protocol/secagg/config.ts';
import { activeKeySet } from '../../circuits/key-set.ts';
import type { ZkKeysPin } from '../../protocol/checkpoint-format.ts';

/**
 * A private task's proofs are checked with the keys it pinned at creation: a coordinator restarted
 * with other keys (another FL_ZK_KEYS, or none) would reject every member's proof, so it refuses the
 * round and says which keys the task needs. Tasks made before pinning existed carry no pin.
 */
function checkTaskKeys(task: number, pin: ZkKeysPin | undefined): void {
  if (!pin) return;
  const keys = activeKeySet();
  if (keys.vkeyHash('membership') === pin.membershipVkey && keys.vkeyHash('claim') === pin.claimVkey) return;
  const want = pin.kind === 'ceremony' ? `the keys of the ceremony with transcript ${pin.transcript}` : 'the development keys (unset FL_ZK_KEYS)';
  const have = keys.kind === 'ceremony' ? `the ceremony keys of ${keys.dir}` : 'the development keys';
  throw new AppError('ZK_KEYS_MISMATCH', 409, `private task ${task} was created with ${want}, but this coordinator has ${have}: start it with the task's keys`);
}

/** Opens the task's next round on its newest checkpoint; one round at a time per task. */
export async function openRound(ctx: CoordinatorContext, task: number, body: unknown): Promise<Round> {
  const b = parseOr400(OpenRoundBody, body ?? {}, 'round');
  const t = await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  // Private tasks: the round proves membership against the members admitted so far. The list only
  // appends, so "the first n" stays the same tree whatever is admitted while the round runs.
  let members: { membersRoot: string; membersCount: number } | undefined;
  if (t.privacy === 'private') {
    checkTaskKeys(task, t.zk);
    const count = await ctx.members.count(task);
    if (count === 0) throw new AppError('NO_MEMBERS', 409, `private task ${task} has no members yet: admit identity commitments first (POST /v1/tasks/${task}/members)`);
    members = { membersRoot: await ctx.membersTrees.rootOf(task, count), membersCount: count };
  }
  if (b.buffers !== undefined && !t.async) throw new AppError('VALIDATION_FAILED', 400, `invalid round: buffers: task ${task} has synchronous rounds; buffers is for async tasks`);
  // An async round is one buffer: it takes the task's buffer size and may chain into the next ones.
  const buffer = t.async ? { maxClients: t.async.buffer, minClients: Math.min(b.minClients, t.async.buffer), buffersLeft: b.buffers ?? 1, durationSeconds: b.durationSeconds } : undefined;
  const now = ctx.now();
  let deadlineMs = now + Math.round(b.durationSeconds * 1000);
  // Secure rounds run the protocol's phases first (keys, shares), then give clients durationSeconds
  // to train and upload, then a phase to unmask: the round's deadline is the latest it can end.
  let secure: { secureUploadMs: number } | undefined;
  let keysDeadlineMs: number | undefined;
  if (t.secure) {
    if (b.minClients < MIN_SECURE_CLIENTS) throw new AppError('VALIDATION_FAILED', 400, `invalid round: minClients: a secure round needs at least ${MIN_SECURE_CLIENTS} clients (with two, each could subtract its own update from the sum)`);
    if (b.maxClients > t.secure.maxClients) throw new AppError('VALIDATION_FAILED', 400, `invalid round: maxClients: ${b.maxClients} exceeds the task's secure.maxClients ${t.secure.maxClients}, which its fixed-point scale is sized for`);
    const phaseMs = Math.round(t.secure.phaseSeconds * 1000);
    secure = { secureUploadMs: Math.round(b.durationSeconds * 1000) };
    keysDeadlineMs = now + phaseMs;
    deadlineMs = now + 3 * phaseMs + secure.secureUploadMs;
  }
  const r = await ctx.rounds.open(
    task,
    {
      openedAt: new Date(now).toISOString(),
      deadline: new Date(deadlineMs).toISOString(),
      minClients: buffer?.minClients ?? b.minClients,
      maxClients: buffer?.maxClients ?? b.maxClients,
      training: TrainingConfig.parse({ ...t.training, ...b.training }),
      strategy: t.strategy,
      ...members,
      ...secure,
      ...(buffer ? { buffersLeft: buffer.buffersLeft, durationSeconds: buffer.durationSeconds } : {}),
    },
    // The round hash's deadlineMs is the current phase's: the key phase's for a secure round.
    keysDeadlineMs ?? deadlineMs,
    keysDeadlineMs,
  );
  if ('alreadyOpen' in r) throw new AppError('ROUND_ALREADY_OPEN', 409, `round ${r.alreadyOpen} of task ${task} is still running`);
  ctx.log.info({ task, round: r.round, base: r.baseHash, deadline: new Date(deadlineMs).toISOString() }, 'round opened');
  return (await ctx.rounds.get(task, r.round)) as Round;
}
