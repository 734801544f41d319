import { buildManifest, contentHash, decodeCheckpoint, decodeWire, encodeCheckpoint, weighByStaleness, encodeManifest, weightManifest, type Hex32 } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { failpoint } from '../failpoints.ts';
import { createStrategy } from '../strategies/index.ts';
import type { ClientDelta } from '../strategies/strategy.ts';
import { takeRenewedLock } from '../infra/redis-lock.ts';
import type { SecureManifestBlock } from '../../protocol/manifest.ts';
import { aggregateSecure } from './aggregate-secure.ts';
import { scoreRound } from './score-round.ts';
import { roundReward } from './round-reward.ts';
import { VALIDATION_GAIN_RULE } from '../../protocol/rewards.ts';
import { openRound } from './open-round.ts';

export type CloseOutcome =
  | { status: 'aggregated'; checkpointHash: Hex32; manifestHash: Hex32; accepted: number }
  | { status: 'failed'; reason: string }
  | { status: 'busy' }
  | { status: 'not-closing'; state: string | null };

/** Short lock, renewed while we work: a coordinator that dies frees the round within seconds. */
const LOCK_MS = 15_000;
/** Deltas whose archive copy may wait for its hash and write while the strategy folds the next ones. */
const ARCHIVE_WINDOW = 2;

/**
 * Closes a round and aggregates it. Idempotent and resumable: a coordinator that dies half-way
 * leaves the round 'closing' with its accepted deltas still in Redis, and the next run redoes the
 * same deterministic aggregation (same inputs in the same order, same checkpoint bytes and hash).
 * A Redis lock keeps two coordinator replicas from aggregating the same round at once.
 */
export async function closeRound(ctx: CoordinatorContext, task: number, round: number): Promise<CloseOutcome> {
  const lock = await takeRenewedLock(ctx.redis, ctx.keys.closeLock(task, round), LOCK_MS);
  if (!lock) return { status: 'busy' };
  try {
    const state = await ctx.rounds.beginClose(task, round);
    if (state !== 'closing') {
      // A coordinator that died between aggregating a buffer and opening the next: open it now.
      if (state === 'aggregated') await openNextBuffer(ctx, task, round);
      return { status: 'not-closing', state };
    }
    const head = await ctx.rounds.head(task, round);
    const t = await ctx.tasks.get(task);
    if (!head || !t) throw new Error(`round ${task}/${round} vanished while closing`);

    // Sync rounds fold in ascending client order; an async buffer in arrival order (the order FedBuff
    // folds in, recorded in the manifest for the auditor).
    const byClient = await ctx.rounds.accepted(task, round);
    const accepted = t.async ? [...byClient].sort((a, b) => (a.arrival ?? 0) - (b.arrival ?? 0)) : byClient;
    if (accepted.length < head.cfg.minClients) {
      const reason = `quorum not met: ${accepted.length} accepted, ${head.cfg.minClients} required by ${head.cfg.deadline}`;
      await ctx.rounds.finish(task, round, 'failed', reason);
      await dropAcceptedBlobs(ctx, task, round, accepted.map((a) => a.client));
      ctx.log.warn({ task, round, reason }, 'round failed');
      return { status: 'failed', reason };
    }

    const baseBytes = await ctx.store.get('checkpoints', head.baseHash);
    if (!baseBytes) throw new Error(`base checkpoint ${head.baseHash} is missing from the store`);
    const base = decodeCheckpoint(baseBytes);
    const manifest = weightManifest(t.modelSpec);
    const wire = t.wire;
    const asyncCfg = t.async;
    const started = performance.now();

    // Deltas stream from Redis one at a time in ascending client order (the auditor's order too),
    // each read once: the strategy folds it while a checker thread hashes a copy, which is then
    // archived content-addressed under that hash. Every accepted delta is archived before the round
    // is marked done (the auditor re-aggregates from these); Redis keeps them until then, so a crash
    // here loses nothing. At most ARCHIVE_WINDOW copies wait for their hash and write, so memory
    // stays O(model) for a streaming strategy.
    const archiving: Promise<void>[] = [];
    let archiveError: unknown = null;
    const archive = (id: string, bytes: Uint8Array): Promise<void> =>
      ctx.checker
        .check(bytes.slice())
        .then(async ({ hash }) => {
          if (hash !== id) throw new Error(`archived delta hashes to ${hash}, accepted as ${id}`);
          await ctx.store.putHashed('updates', bytes, hash);
        })
        // Kept, not thrown here: it surfaces once the window or the final wait reaches it.
        .catch((e: unknown) => {
          archiveError ??= e;
        });
    async function* deltas(): AsyncGenerator<ClientDelta> {
      for (const a of accepted) {
        const buf = await ctx.redis.getBuffer(ctx.keys.acceptedBlob(task, round, a.client));
        if (!buf) throw new Error(`accepted delta of ${a.client} in round ${task}/${round} is missing`);
        const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
        // A copy of its own: the strategy may transform the delta it is given.
        archiving.push(archive(a.updateHash, bytes.slice()));
        if (archiving.length > ARCHIVE_WINDOW) await archiving.shift();
        if (archiveError) throw archiveError;
        const delta = decodeWire(wire, bytes, manifest.size);
        // Async: a stale delta is scaled down by (1 + s)^-a before the strategy sees it.
        yield { id: a.updateHash, delta: asyncCfg ? weighByStaleness(asyncCfg, delta, a.staleness ?? 0) : delta, numSamples: a.numSamples };
      }
    }
    const strategy = createStrategy(head.cfg.strategy);
    let result: Awaited<ReturnType<typeof strategy.aggregate>>;
    let secure: SecureManifestBlock | undefined;
    if (t.secure) {
      // Secure rounds: the strategy sees one delta, the unmasked mean of the survivors' updates.
      const sum = await aggregateSecure(ctx, t, head, accepted, async (hash, bytes) => {
        if ((await contentHash(bytes)) !== hash) throw new Error(`archived masked update hashes otherwise than ${hash}`);
        await ctx.store.putHashed('updates', bytes, hash as Hex32);
      });
      if (!sum.ok) {
        await ctx.rounds.finish(task, round, 'failed', sum.reason);
        await dropAcceptedBlobs(ctx, task, round, accepted.map((a) => a.client));
        await ctx.secure.drop(task, round);
        ctx.log.warn({ task, round, reason: sum.reason }, 'round failed');
        return { status: 'failed', reason: sum.reason };
      }
      secure = sum.block;
      const one = async function* (): AsyncGenerator<ClientDelta> {
        yield { id: 'secure-sum', delta: sum.meanDelta, numSamples: 1 };
      };
      result = await strategy.aggregate({ base: base.weights, serverState: base.serverState, deltas: one, count: 1, round: { task, round, baseHash: head.baseHash } });
    } else {
      try {
        result = await strategy.aggregate({ base: base.weights, serverState: base.serverState, deltas, count: accepted.length, round: { task, round, baseHash: head.baseHash } });
      } finally {
        await Promise.all(archiving);
      }
      if (archiveError) throw archiveError;
    }
    await failpoint('close.after-archive');
    // Validation-gain rounds: every archived update is scored before the manifest is written.
    const contribution = !t.secure && t.rewards.scoring === VALIDATION_GAIN_RULE ? await scoreRound(ctx, t, round, head.baseHash, base.weights, accepted) : undefined;
    const checkpointHash = await ctx.store.put(
      'checkpoints',
      encodeCheckpoint({ task, round, parentHash: head.baseHash as Hex32, strategy: strategy.name, modelSpec: t.modelSpec, weights: result.weights, serverState: result.serverState }),
    );
    // The contributions manifest: who sent what, who was refused and why, and who is owed what.
    // Its hash and rewards root are what the chain will commit; the auditor re-derives both.
    const rejections = await ctx.rounds.rejections(task, round);
    const contributions = buildManifest({
      task,
      round,
      baseHash: head.baseHash,
      checkpointHash,
      strategy: head.cfg.strategy,
      scoringRule: t.rewards.scoring,
      reward: await roundReward(ctx, t, round),
      accepted: byClient,
      rejected: rejections,
      // Private rounds: the members snapshot the proofs were checked against (and the chain records).
      ...(head.cfg.membersRoot && head.cfg.membersCount ? { private: { membersRoot: head.cfg.membersRoot, members: head.cfg.membersCount } } : {}),
      ...(secure ? { secure } : {}),
      ...(contribution ? { contribution } : {}),
      ...(t.secure ? {} : { wire: t.wire }),
      ...(t.async ? { async: { ...t.async, arrivals: accepted.map((a) => ({ updateHash: a.updateHash, trainedFor: a.trainedFor!, staleness: a.staleness! })) } } : {}),
    });
    const manifestHash = await ctx.store.put('manifests', encodeManifest(contributions));
    await ctx.rounds.setManifest(task, round, { manifestHash, rewardsRoot: contributions.rewardsRoot, reward: contributions.allocated });
    await ctx.rounds.finish(task, round, 'aggregated', checkpointHash);
    await dropAcceptedBlobs(ctx, task, round, accepted.map((a) => a.client));
    if (t.secure) await ctx.secure.drop(task, round);
    ctx.log.info({ task, round, accepted: accepted.length, used: result.used.length, checkpointHash, ms: Math.round(performance.now() - started) }, 'round aggregated');
    if (t.async) await openNextBuffer(ctx, task, round);
    return { status: 'aggregated', checkpointHash, manifestHash, accepted: accepted.length };
  } finally {
    await lock.release();
  }
}

async function dropAcceptedBlobs(ctx: CoordinatorContext, task: number, round: number, clients: string[]) {
  if (clients.length) await ctx.redis.del(...clients.map((c) => ctx.keys.acceptedBlob(task, round, c)));
}

/**
 * Async tasks: after buffer `round` aggregated, the next one opens at once on the new checkpoint with
 * the same settings, while the admin's `buffers` last. Idempotent: only when `round` is the task's
 * newest round and nothing is open (a resumed close or a second replica does nothing).
 */
async function openNextBuffer(ctx: CoordinatorContext, task: number, round: number): Promise<void> {
  const t = await ctx.tasks.get(task);
  const head = await ctx.rounds.head(task, round);
  if (!t?.async || !head || head.state === 'failed' || (head.cfg.buffersLeft ?? 1) <= 1) return;
  if (t.lastRound !== round || (await ctx.tasks.openRound(task)) !== 0) return;
  try {
    const next = await openRound(ctx, task, { durationSeconds: head.cfg.durationSeconds, minClients: head.cfg.minClients, training: head.cfg.training, buffers: head.cfg.buffersLeft! - 1 });
    ctx.log.info({ task, round: next.round, buffersLeft: head.cfg.buffersLeft! - 1 }, 'next async buffer opened');
  } catch (e) {
    // ROUND_ALREADY_OPEN: another replica was first. Anything else is logged; the admin can open one.
    ctx.log.warn({ task, after: round, err: e instanceof Error ? e.message : String(e) }, 'next async buffer not opened');
  }
}
