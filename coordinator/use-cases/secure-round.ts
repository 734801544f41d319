import { MIN_SECURE_CLIENTS, secureRoundThresholds } from '../../protocol/secagg/config.ts';
import type { CoordinatorContext } from '../context.ts';
import { takeRenewedLock } from '../infra/redis-lock.ts';
import type { RoundHead } from '../store/round-repo.ts';
import { closeRound, type CloseOutcome } from './close-round.ts';

export type AdvanceOutcome = { status: 'waiting' | 'busy' } | { status: 'advanced'; phase: string } | { status: 'failed'; reason: string } | CloseOutcome;

const LOCK_MS = 15_000;

/**
 * Moves a secure round through its phases (protocol/secagg): keys -> shares -> masked ->
 * consistency -> unmask, then closes it. A phase ends early when every client it waits for has answered, else at its
 * deadline; a phase that ends with too few clients fails the round with the reason, so a round
 * either completes with a correct sum or fails by name. Run by the scheduler on every replica;
 * a lock and the compare-and-set in the advance script keep the moves single.
 */
export async function advanceSecureRound(ctx: CoordinatorContext, head: RoundHead): Promise<AdvanceOutcome> {
  const { task, round } = head;
  if (head.state === 'closing' || head.secure?.phase === 'done') return closeRound(ctx, task, round);
  if (head.state !== 'open' || !head.secure) return { status: 'waiting' };
  const lock = await takeRenewedLock(ctx.redis, ctx.keys.secureLock(task, round), LOCK_MS);
  if (!lock) return { status: 'busy' };
  try {
    const h = await ctx.rounds.head(task, round);
    const t = await ctx.tasks.get(task);
    if (!h || !h.secure || h.state !== 'open' || !t?.secure) return { status: 'waiting' };
    const now = ctx.now();
    const late = now >= h.secure.phaseDeadlineMs;
    const phaseMs = Math.round(t.secure.phaseSeconds * 1000);
    // The fewest clients each later phase may end with: the round's survivor threshold, fixed by how
    // many advertised keys (config.ts secureRoundThresholds; on a ring it exceeds the share threshold).
    const advertisers = h.secure.phase === 'keys' ? 0 : await ctx.secure.count(task, round, 'keys');
    const required = Math.max(h.cfg.minClients, MIN_SECURE_CLIENTS, advertisers ? secureRoundThresholds(t.secure, advertisers).survivors : 0);
    const quorum = (n: number) => required <= n;
    const move = async (to: 'shares' | 'masked' | 'consistency' | 'unmask' | 'done', deadlineMs: number, threshold?: number): Promise<AdvanceOutcome> => {
      const moved = await ctx.secure.advance(task, round, h.secure!.phase, to, deadlineMs, threshold);
      if (moved) ctx.log.info({ task, round, phase: to }, 'secure round advanced');
      return moved ? { status: 'advanced', phase: to } : { status: 'busy' };
    };
    switch (h.secure.phase) {
      case 'keys': {
        const n = await ctx.secure.count(task, round, 'keys');
        if (n < h.cfg.maxClients && !late) return { status: 'waiting' };
        if (!quorum(n)) return fail(ctx, task, round, `quorum not met: ${n} client(s) advertised keys, ${required} required`);
        return move('shares', now + phaseMs, secureRoundThresholds(t.secure, n).shares);
      }
      case 'shares': {
        const [n1, n2] = [advertisers, await ctx.secure.count(task, round, 'shares')];
        if (n2 < n1 && !late) return { status: 'waiting' };
        if (!quorum(n2)) return fail(ctx, task, round, `quorum not met: ${n2} of ${n1} client(s) dealt their shares, ${required} required`);
        return move('masked', now + (h.cfg.secureUploadMs ?? phaseMs));
      }
      case 'masked': {
        const n2 = await ctx.secure.count(task, round, 'shares');
        if (h.accepted < n2 && !late) return { status: 'waiting' };
        // The move freezes the survivor list: accept-update.lua takes uploads in 'masked' only.
        const moved = await move('consistency', now + phaseMs);
        if (moved.status !== 'advanced') return moved;
        const after = await ctx.rounds.head(task, round);
        const n3 = after?.accepted ?? 0;
        if (!quorum(n3)) return fail(ctx, task, round, `quorum not met: ${n3} of ${n2} client(s) uploaded a masked update, ${required} required`);
        return moved;
      }
      case 'consistency': {
        // Every survivor signs the list it was shown; a client reveals only once it sees enough
        // signatures of that same list, so the round needs as many as it needs survivors.
        const [confirmed, survivors] = [await ctx.secure.count(task, round, 'consistency'), h.accepted];
        if (confirmed < survivors && !late) return { status: 'waiting' };
        if (!quorum(confirmed)) return fail(ctx, task, round, `quorum not met: ${confirmed} of ${survivors} survivor(s) confirmed the survivor list, ${required} required`);
        return move('unmask', now + phaseMs);
      }
      case 'unmask': {
        const revealed = await ctx.secure.count(task, round, 'reveal');
        if (revealed < h.accepted && !late) return { status: 'waiting' };
        const moved = await move('done', now);
        if (moved.status !== 'advanced') return moved;
        // Too few reveals to unmask someone is found while closing, and fails the round by name.
        return closeRound(ctx, task, round);
      }
      default:
        return { status: 'waiting' };
    }
  } finally {
    await lock.release();
  }
}

async function fail(ctx: CoordinatorContext, task: number, round: number, reason: string): Promise<AdvanceOutcome> {
  const state = await ctx.rounds.beginClose(task, round);
  if (state !== 'closing') return { status: 'busy' };
  const accepted = await ctx.rounds.accepted(task, round);
  await ctx.rounds.finish(task, round, 'failed', reason);
  if (accepted.length) await ctx.redis.del(...accepted.map((a) => ctx.keys.acceptedBlob(task, round, a.client)));
  await ctx.secure.drop(task, round);
  ctx.log.warn({ task, round, reason }, 'secure round failed');
  return { status: 'failed', reason };
}
