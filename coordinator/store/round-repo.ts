import type { RedisClient } from '../infra/redis-connection.ts';
import { z } from 'zod';
import { AcceptedUpdate, Rejection, Round, RoundStateName, SecurePhase, StrategyConfig, TrainingConfig } from '../../protocol/index.ts';
import type { RedisKeys } from './redis-keys.ts';
import type { ScriptRunner } from './lua-scripts.ts';

/** The immutable settings of a round, fixed when it opens. */
export const RoundCfg = z.object({
  openedAt: z.string(),
  deadline: z.string(),
  minClients: z.number().int(),
  maxClients: z.number().int(),
  training: TrainingConfig,
  strategy: StrategyConfig,
  /** Private tasks: the members root and count snapshotted at opening (absent for public tasks). */
  membersRoot: z.string().optional(),
  membersCount: z.number().int().min(1).optional(),
  /** Secure rounds: how long clients get to train and upload once the masked phase begins. */
  secureUploadMs: z.number().int().positive().optional(),
  /** Async tasks: buffers still to run after this one's (1 = this is the last), and each one's duration. */
  buffersLeft: z.number().int().min(1).optional(),
  durationSeconds: z.number().positive().optional(),
});
export type RoundCfg = z.infer<typeof RoundCfg>;

export type AcceptResult = 'accepted' | 'closed' | 'late' | 'duplicate' | 'full' | 'missing';

export interface RoundRepo {
  open(task: number, cfg: RoundCfg, deadlineMs: number, securePhaseDeadlineMs?: number): Promise<{ round: number; baseHash: string } | { alreadyOpen: number }>;
  get(task: number, round: number): Promise<Round | null>;
  /** Just the fields the worker and scheduler need, without the update lists. */
  head(task: number, round: number): Promise<RoundHead | null>;
  accepted(task: number, round: number): Promise<AcceptedUpdate[]>;
  acceptedFor(task: number, round: number, client: string): Promise<AcceptedUpdate | null>;
  /**
   * `placed` (async tasks): the trained-for round of the update, so that one signed update is accepted
   * into one buffer only; the record's arrival index is then assigned by the script (pass arrival -1).
   */
  accept(task: number, round: number, client: string, jobId: string, record: AcceptedUpdate, nowMs: number, placed?: { trainedFor: number }): Promise<AcceptResult>;
  /** Async tasks: where an update trained for `trainedFor` by `sender` was accepted, if anywhere. */
  placedAt(task: number, trainedFor: number, sender: string): Promise<{ round: number; jobId: string } | null>;
  reject(task: number, round: number, jobId: string, rejection: Rejection): Promise<boolean>;
  recordStray(rejection: Rejection): Promise<void>;
  strayRejections(): Promise<Rejection[]>;
  beginClose(task: number, round: number): Promise<string | null>;
  /** Records the manifest of a closing round (before finish, so a resumed close rewrites the same values). */
  setManifest(task: number, round: number, m: { manifestHash: string; rewardsRoot: string; reward: string }): Promise<void>;
  finish(task: number, round: number, outcome: 'aggregated' | 'failed', value: string): Promise<boolean>;
  active(): Promise<{ task: number; round: number }[]>;
  /** Aggregated rounds still to be committed on chain, by task then round. */
  toCommit(): Promise<{ task: number; round: number }[]>;
  markCommitted(task: number, round: number, txHash: string, blockNumber: number): Promise<boolean>;
  /** Forgets a round the chain writer has nothing to do for (it is no longer 'aggregated'). */
  dropFromCommitQueue(task: number, round: number): Promise<void>;
  /** The round's rejections, oldest first. */
  rejections(task: number, round: number): Promise<Rejection[]>;
  setCommitError(task: number, round: number, message: string | null): Promise<void>;
}

export interface RoundHead {
  task: number;
  round: number;
  state: z.infer<typeof RoundStateName>;
  cfg: RoundCfg;
  baseHash: string;
  deadlineMs: number;
  accepted: number;
  rejected: number;
  /** Secure rounds: the protocol phase, its deadline and (from the shares phase on) the threshold. */
  secure: { phase: SecurePhase; phaseDeadlineMs: number; threshold: number | null } | null;
}

function secureOf(h: Record<string, string>): RoundHead['secure'] {
  if (!h.securePhase) return null;
  return { phase: SecurePhase.parse(h.securePhase), phaseDeadlineMs: Number(h.securePhaseDeadlineMs), threshold: h.secureThreshold ? Number(h.secureThreshold) : null };
}

/** Parses stored rejection records, oldest first (ties by job id, so the order is total). */
function parseRejections(values: string[]): Rejection[] {
  return values.map((j) => Rejection.parse(JSON.parse(j))).sort((a, b) => a.at.localeCompare(b.at) || a.jobId.localeCompare(b.jobId));
}

/** Tries at opening a round while others open rounds of the same task (each pass loses only to a new round). */
const OPEN_ATTEMPTS = 5;

export function roundRepo(redis: RedisClient, keys: RedisKeys, scripts: ScriptRunner): RoundRepo {
  const head = async (task: number, round: number): Promise<RoundHead | null> => {
    const h = await redis.hgetall(keys.round(task, round));
    if (!h.cfg) return null;
    return {
      task,
      round,
      state: RoundStateName.parse(h.state),
      cfg: RoundCfg.parse(JSON.parse(h.cfg)),
      baseHash: h.baseHash as string,
      deadlineMs: Number(h.deadlineMs),
      accepted: Number(h.accepted ?? 0),
      rejected: Number(h.rejected ?? 0),
      secure: secureOf(h),
    };
  };
  const accepted = async (task: number, round: number) => {
    const all = await redis.hgetall(keys.accepted(task, round));
    return Object.keys(all)
      .sort()
      .map((client) => AcceptedUpdate.parse(JSON.parse(all[client] as string)));
  };
  return {
    async open(task, cfg, deadlineMs, securePhaseDeadlineMs) {
      // The script checks the number we read; only another opening in between makes it move, and
      // that one leaves its round open, so the second pass answers alreadyOpen.
      let last = Number((await redis.hget(keys.task(task), 'lastRound')) ?? 0);
      for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        const next = last + 1;
        const r = (await scripts.run(
          'openRound',
          [keys.task(task), keys.activeRounds, keys.round(task, next)],
          [next, JSON.stringify(cfg), deadlineMs, cfg.maxClients, task, securePhaseDeadlineMs ?? ''],
        )) as [number, string | number];
        if (r[0] === 0) return { alreadyOpen: Number(r[1]) };
        if (r[0] > 0) return { round: Number(r[0]), baseHash: String(r[1]) };
        last = Number(r[1]);
      }
      throw new Error(`opening a round of task ${task}: its round counter kept moving (${OPEN_ATTEMPTS} attempts)`);
    },
    head,
    accepted,
    async get(task, round) {
      // One MULTI: counters and lists come from the same instant, so accepted/rejected always
      // equal the lengths of the lists shown beside them.
      const res = await redis.multi().hgetall(keys.round(task, round)).hgetall(keys.accepted(task, round)).hvals(keys.rejections(task, round)).exec();
      if (!res) throw new Error('round read was aborted');
      for (const [err] of res) if (err) throw err;
      const h = res[0]![1] as Record<string, string>;
      const accAll = res[1]![1] as Record<string, string>;
      const rej = res[2]![1] as string[];
      if (!h.cfg) return null;
      const cfg = RoundCfg.parse(JSON.parse(h.cfg));
      const acc = Object.keys(accAll)
        .sort()
        .map((client) => AcceptedUpdate.parse(JSON.parse(accAll[client] as string)));
      const rejections = parseRejections(rej);
      const accepted = Number(h.accepted ?? 0);
      const rejected = Number(h.rejected ?? 0);
      return Round.parse({
        task,
        round,
        state: h.state,
        openedAt: cfg.openedAt,
        deadline: cfg.deadline,
        baseHash: h.baseHash,
        membersRoot: cfg.membersRoot ?? null,
        membersCount: cfg.membersCount ?? 0,
        minClients: cfg.minClients,
        maxClients: cfg.maxClients,
        training: cfg.training,
        strategy: cfg.strategy,
        received: accepted + rejected,
        accepted,
        rejected,
        acceptedUpdates: acc,
        rejections,
        checkpointHash: h.checkpointHash ?? null,
        manifestHash: h.manifestHash ?? null,
        rewardsRoot: h.rewardsRoot ?? null,
        reward: h.reward ?? null,
        failureReason: h.failureReason ?? null,
        closedAt: h.closedAt ?? null,
        commit: h.commitTx ? { txHash: h.commitTx, blockNumber: Number(h.commitBlock) } : null,
        commitError: h.commitError ?? null,
        secure: (() => {
          const sec = secureOf(h);
          return sec ? { phase: sec.phase, phaseDeadline: new Date(sec.phaseDeadlineMs).toISOString(), threshold: sec.threshold } : null;
        })(),
      });
    },
    async acceptedFor(task, round, client) {
      const j = await redis.hget(keys.accepted(task, round), client.toLowerCase());
      return j ? AcceptedUpdate.parse(JSON.parse(j)) : null;
    },
    async accept(task, round, client, jobId, record, nowMs, placed) {
      return (await scripts.run(
        'acceptUpdate',
        [keys.round(task, round), keys.accepted(task, round), keys.work(jobId), keys.acceptedBlob(task, round, client), keys.asyncPlaced(task)],
        [client, JSON.stringify(record), nowMs, placed ? `${placed.trainedFor}:${client}` : '', placed ? `${round}:${jobId}` : ''],
      )) as AcceptResult;
    },
    async placedAt(task, trainedFor, sender) {
      const v = await redis.hget(keys.asyncPlaced(task), `${trainedFor}:${sender.toLowerCase()}`);
      if (!v) return null;
      const i = v.indexOf(':');
      return { round: Number(v.slice(0, i)), jobId: v.slice(i + 1) };
    },
    async reject(task, round, jobId, rejection) {
      const r = await scripts.run('recordRejection', [keys.round(task, round), keys.rejections(task, round), keys.work(jobId)], [jobId, JSON.stringify(rejection)]);
      return r === 1;
    },
    async recordStray(rejection) {
      await redis.multi().lpush(keys.strayRejections, JSON.stringify(rejection)).ltrim(keys.strayRejections, 0, 9999).exec();
    },
    async strayRejections() {
      return (await redis.lrange(keys.strayRejections, 0, -1)).map((j) => Rejection.parse(JSON.parse(j)));
    },
    async beginClose(task, round) {
      return (await scripts.run('beginClose', [keys.round(task, round)], [])) as string | null;
    },
    async setManifest(task, round, m) {
      await redis.hset(keys.round(task, round), m);
    },
    async finish(task, round, outcome, value) {
      const r = await scripts.run('finishRound', [keys.round(task, round), keys.task(task), keys.activeRounds, keys.toCommit], [outcome, value, new Date().toISOString(), `${task}:${round}`, round]);
      return r === 1;
    },
    async toCommit() {
      return (await redis.zrange(keys.toCommit, 0, -1))
        .map((m) => m.split(':').map(Number) as [number, number])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .map(([task, round]) => ({ task, round }));
    },
    async markCommitted(task, round, txHash, blockNumber) {
      return (await scripts.run('markCommitted', [keys.round(task, round), keys.toCommit], [txHash, blockNumber, `${task}:${round}`])) === 1;
    },
    async dropFromCommitQueue(task, round) {
      await redis.zrem(keys.toCommit, `${task}:${round}`);
    },
    async rejections(task, round) {
      return parseRejections(await redis.hvals(keys.rejections(task, round)));
    },
    async setCommitError(task, round, message) {
      if (message === null) await redis.hdel(keys.round(task, round), 'commitError');
      else await redis.hset(keys.round(task, round), 'commitError', message);
    },
    async active() {
      return (await redis.smembers(keys.activeRounds))
        .map((m) => m.split(':').map(Number) as [number, number])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .map(([task, round]) => ({ task, round }));
    },
  };
}
