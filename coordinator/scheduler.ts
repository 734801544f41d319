import type { RedisClient } from './infra/redis-connection.ts';
import type { CoordinatorContext } from './context.ts';
import { closeRound } from './use-cases/close-round.ts';
import { advanceSecureRound } from './use-cases/secure-round.ts';
import type { RoundHead } from './store/round-repo.ts';
import { metrics } from './metrics.ts';

export interface Scheduler {
  /** Runs one pass now (tests call it to avoid waiting for the timer). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Watches the active rounds: closes a round at its deadline, or at once when it is full, and
 * resumes rounds a previous coordinator left 'closing'. State lives in Redis, so any replica's
 * scheduler can do this; the close lock keeps them from doing it twice.
 */
export function startScheduler(ctx: CoordinatorContext, subscriber: RedisClient | null, intervalMs: number | null): Scheduler {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  const pass = async () => {
    for (const { task, round } of await ctx.rounds.active()) {
      if (stopped) return;
      const head = await ctx.rounds.head(task, round);
      if (!head) continue;
      if (head.secure) {
        await advanceSecure(head);
        continue;
      }
      const due = head.state === 'closing' || head.accepted >= head.cfg.maxClients || ctx.now() >= head.deadlineMs;
      if (!due) continue;
      try {
        const t0 = performance.now();
        const out = await closeRound(ctx, task, round);
        // 'busy': another replica holds the close lock; that is not an aggregation of ours.
        if (out.status !== 'busy') metrics.aggregation.observe({ outcome: out.status }, (performance.now() - t0) / 1000);
        if (out.status === 'aggregated' || out.status === 'failed') ctx.log.debug({ task, round, out }, 'round closed');
      } catch (e) {
        // Leave the round 'closing': the next pass retries, nothing is lost.
        ctx.log.error({ err: e, task, round }, 'closing round failed; will retry');
      }
    }
  };
  // A secure round moves phase by phase; each move may make the next one due at once.
  const advanceSecure = async (head: RoundHead) => {
    try {
      const t0 = performance.now();
      const out = await advanceSecureRound(ctx, head);
      if (out.status === 'aggregated' || out.status === 'failed') metrics.aggregation.observe({ outcome: out.status }, (performance.now() - t0) / 1000);
      if (out.status === 'advanced') again = true;
    } catch (e) {
      ctx.log.error({ err: e, task: head.task, round: head.round }, 'advancing secure round failed; will retry');
    }
  };
  const tick = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await pass();
        } while (again && !stopped);
      } catch (e) {
        ctx.log.error({ err: e }, 'scheduler pass failed');
      } finally {
        running = null;
      }
    })();
    return running;
  };

  // With no interval the scheduler is manual: only tick() runs it (tests, and one-shot tools).
  const timer = intervalMs === null ? null : setInterval(() => void tick(), intervalMs);
  if (subscriber) {
    subscriber.subscribe(ctx.keys.roundEvents).catch((e) => ctx.log.error({ err: e }, 'scheduler subscribe failed'));
    subscriber.on('message', () => void tick());
  }
  if (timer) void tick();
  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
      subscriber?.disconnect();
    },
  };
}
