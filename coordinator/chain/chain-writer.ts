import { isCallException, ZeroHash } from 'ethers';
import type { Task } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { failpoint } from '../failpoints.ts';
import { metrics } from '../metrics.ts';
import type { ChainClient } from './chain-client.ts';
import { takeRenewedLock } from '../infra/redis-lock.ts';

export interface ChainWriter {
  /** One pass now; resolves when it is done (tests use it instead of waiting for the timer). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export interface ChainWriterOptions {
  intervalMs: number;
  /** Base URL under which the checkpoints are served, for the commit's artifact URI. */
  publicUrl?: string;
  /** Longest wait between passes after RPC failures. */
  maxBackoffMs?: number;
}

/**
 * The writer lock: short, and renewed while a pass runs, so a coordinator that dies mid-pass holds
 * up the next one's commits for seconds, not a minute.
 */
const LOCK_MS = 15_000;

/** The registry already has this task id with another genesis: one registry serves one coordinator deployment. */
class TaskIdTaken extends Error {
  constructor(
    readonly task: number,
    readonly onChain: string,
  ) {
    super(`task ${task} exists on chain with initial checkpoint ${onChain}, not ours: is another coordinator using this registry?`);
  }
}

/** A revert names a custom error we can show; anything else is transport trouble and is retried. */
function describe(e: unknown): { revert: boolean; message: string } {
  if (isCallException(e)) {
    const name = e.revert?.name;
    return { revert: true, message: name ? `${name}(${(e.revert?.args ?? []).join(', ')})` : e.shortMessage };
  }
  return { revert: false, message: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
}

/**
 * Commits every aggregated round on chain, one transaction per round, in round order per task.
 * Idempotent: before sending, it asks the chain how far the task has got and adopts a commit it
 * finds there (a coordinator that died after sending), so a restart neither commits a round twice
 * (the registry would refuse anyway) nor skips one. While the RPC is unreachable rounds simply stay
 * 'aggregated' and the writer backs off; nothing is lost.
 */
export function startChainWriter(ctx: CoordinatorContext, chain: ChainClient, opts: ChainWriterOptions): ChainWriter {
  let running: Promise<void> | null = null;
  let stopped = false;
  let backoffMs = 0;
  let nextAt = 0;

  /** Tasks not yet registered on chain by this deployment (one HKEYS, not a read of every task). */
  async function unregisteredTasks(): Promise<Task[]> {
    const [ids, known] = await Promise.all([ctx.redis.smembers(ctx.keys.tasks), ctx.redis.hkeys(ctx.keys.chainTasks)]);
    const done = new Set(known);
    const todo = ids.filter((id) => !done.has(id)).map(Number).sort((a, b) => a - b);
    return (await Promise.all(todo.map((id) => ctx.tasks.get(id)))).filter((t): t is Task => t !== null);
  }

  async function ensureTask(t: Task) {
    const { registry, distributor, token: erc20 } = chain;
    if (!(await registry.taskExists(t.id))) {
      const tx = await registry.createTask(t.id, t.genesisHash);
      await tx.wait();
      ctx.log.info({ task: t.id, tx: tx.hash }, 'task registered on chain');
    } else {
      // Ours from an earlier life, or another deployment's task under the same id on a shared registry.
      const [created] = await registry.queryFilter(registry.filters.TaskCreated(t.id), chain.settings.fromBlock);
      const onChain = created?.args.initialCheckpoint.toLowerCase();
      if (onChain !== t.genesisHash) throw new TaskIdTaken(t.id, onChain ?? 'unknown');
    }
    const budget = BigInt(t.rewards.budget);
    if (budget > 0n) {
      // Funding is not idempotent on chain, so look for our own earlier deposit before making one.
      const me = await chain.signer.getAddress();
      const earlier = await distributor.queryFilter(distributor.filters.Funded(t.id, me), chain.settings.fromBlock);
      if (earlier.length === 0) {
        await (await erc20.approve(chain.addresses.distributor, budget)).wait();
        const tx = await distributor.fund(t.id, budget);
        await tx.wait();
        ctx.log.info({ task: t.id, budget: t.rewards.budget, tx: tx.hash }, 'task reward budget funded');
      }
    }
    await failpoint('chain.after-task-funded');
    await ctx.redis.hset(ctx.keys.chainTasks, String(t.id), JSON.stringify({ registeredAt: new Date(ctx.now()).toISOString() }));
  }

  /** Commits one round; returns false when the task must wait (a revert to look at). */
  async function commitRound(task: number, round: number): Promise<boolean> {
    const r = await ctx.rounds.get(task, round);
    if (!r || r.state !== 'aggregated') {
      await ctx.rounds.dropFromCommitQueue(task, round);
      return true;
    }
    const { registry } = chain;
    const last = Number(await registry.lastRound(task));
    if (last >= round) {
      // Already on chain: a previous run sent it and died before recording it.
      const events = await registry.queryFilter(registry.filters.RoundCommitted(task, round), chain.settings.fromBlock);
      const ev = events.find((e) => e.args.checkpointHash.toLowerCase() === r.checkpointHash);
      if (ev) {
        await ctx.rounds.markCommitted(task, round, ev.transactionHash, ev.blockNumber);
        await ctx.rounds.setCommitError(task, round, null);
        ctx.log.info({ task, round, tx: ev.transactionHash }, 'round commit found on chain (reconciled)');
        return true;
      }
      await ctx.rounds.setCommitError(task, round, `chain is at round ${last} of task ${task} without this round's checkpoint ${r.checkpointHash}`);
      return false;
    }
    const uri = opts.publicUrl ? `${opts.publicUrl.replace(/\/$/, '')}/v1/checkpoints/${r.checkpointHash}` : `keccak256:${r.checkpointHash}`;
    const started = performance.now();
    // participationRoot: a private round's members root (what its proofs were checked against), zero for public rounds.
    const tx = await registry.commitRound(task, round, r.checkpointHash!, r.baseHash, r.manifestHash!, r.rewardsRoot!, r.membersRoot ?? ZeroHash, uri, BigInt(r.reward ?? '0'));
    const receipt = await tx.wait();
    if (!receipt) throw new Error(`commit of ${task}/${round} was not mined`);
    await failpoint('chain.after-commit-mined');
    await ctx.rounds.markCommitted(task, round, receipt.hash, receipt.blockNumber);
    await ctx.rounds.setCommitError(task, round, null);
    metrics.chainTx.observe((performance.now() - started) / 1000);
    metrics.chainGas.inc(Number(receipt.gasUsed));
    metrics.chainCommits.inc();
    ctx.log.info({ task, round, tx: receipt.hash, block: receipt.blockNumber, gas: receipt.gasUsed.toString(), ms: Math.round(performance.now() - started) }, 'round committed on chain');
    return true;
  }

  async function pass() {
    if (ctx.now() < nextAt) return;
    // Nothing to send (most passes): take no lock, so a coordinator that dies idle leaves none behind.
    if ((await ctx.redis.zcard(ctx.keys.toCommit)) === 0 && (await unregisteredTasks()).length === 0) return;
    // One writer across replicas: the lock covers a whole pass, renewed while it runs, and expires
    // within LOCK_MS if we die.
    const lock = await takeRenewedLock(ctx.redis, ctx.keys.chainLock, LOCK_MS);
    if (!lock) return;
    // Replicas share the coordinator's key: since our last pass another one may have sent with it, so
    // the nonce this process cached is stale. Ask the chain again (one eth_getTransactionCount).
    chain.signer.reset();
    let current: { task: number; round: number } | null = null;
    try {
      const pending = await ctx.rounds.toCommit();
      const waiting = new Set<number>();
      for (const t of await unregisteredTasks()) {
        if (stopped) return;
        try {
          await ensureTask(t);
        } catch (e) {
          if (!(e instanceof TaskIdTaken) && !describe(e).revert) throw e;
          // This task cannot be committed; the others go on.
          waiting.add(t.id);
          ctx.log.error({ task: t.id, err: e instanceof Error ? e.message : e }, 'cannot register task on chain');
          for (const p of pending.filter((x) => x.task === t.id)) await ctx.rounds.setCommitError(p.task, p.round, e instanceof Error ? e.message : String(e));
        }
      }
      for (const p of pending) {
        if (stopped) return;
        if (waiting.has(p.task)) continue; // rounds of a task go in order
        current = p;
        try {
          if (!(await commitRound(p.task, p.round))) waiting.add(p.task);
        } catch (e) {
          const d = describe(e);
          if (!d.revert) throw e;
          await ctx.rounds.setCommitError(p.task, p.round, d.message);
          ctx.log.error({ task: p.task, round: p.round, err: d.message }, 'round commit reverted');
          chain.signer.reset();
          waiting.add(p.task);
        }
      }
      backoffMs = 0;
    } catch (e) {
      const d = describe(e);
      chain.signer.reset();
      if (current) await ctx.rounds.setCommitError(current.task, current.round, `chain unreachable: ${d.message}`).catch(() => {});
      backoffMs = Math.min(Math.max(backoffMs * 2, 500), opts.maxBackoffMs ?? 30_000);
      nextAt = ctx.now() + backoffMs;
      ctx.log.warn({ err: d.message, retryInMs: backoffMs }, 'chain writer pass failed; rounds stay aggregated and will be retried');
    } finally {
      await lock.release().catch(() => {});
    }
  }

  const tick = () => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void tick(), opts.intervalMs);
  void tick();
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
