import { blobKey, FLOAT32_WIRE, jobSender, recoverUpdateSigner, updateJobSchemaFor, wireBytes, type Task, type UpdateJob, type WireCodec } from '../../protocol/index.ts';
import { failpoint } from '../failpoints.ts';
import { decodeVerdict, type BlobVerdict } from '../infra/check-blob.ts';
import { verifyUpdateProof } from './verify-update-proof.ts';
import type { RoundHead } from '../store/round-repo.ts';
import type { CoordinatorContext } from '../context.ts';
import { UpdateRejected } from '../errors.ts';

export type ProcessOutcome = { status: 'accepted'; round: number; task: number; accepted: number } | { status: 'already-accepted' };

/**
 * Validates one queued update and accepts it into its round. Trusts nothing in the job: the payload
 * is parsed again, the signature recovered, the blob re-hashed. Throws UpdateRejected for refusals
 * (the caller records them and never retries) and plain errors for transient faults (retried).
 * Safe to run twice for the same job: a retry after a crash neither double-counts nor loses it.
 */
export async function processUpdate(ctx: CoordinatorContext, jobId: string, data: unknown): Promise<ProcessOutcome> {
  const parsed = updateJobSchemaFor(data).safeParse(data);
  if (!parsed.success) {
    throw new UpdateRejected('BAD_PAYLOAD', parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  const job: UpdateJob = parsed.data;
  // The one-update-per-round key: the wallet address, or in a private task the nullifier.
  const sender = jobSender(job);
  const task = await ctx.tasks.get(job.task);
  if (!task) throw new UpdateRejected('UNKNOWN_TASK', `task ${job.task} does not exist`);
  const round = await ctx.rounds.head(job.task, job.round);
  if (!round) throw new UpdateRejected('UNKNOWN_ROUND', `round ${job.round} of task ${job.task} does not exist`);

  // A retry of a job that was accepted before a crash: done already, count nothing.
  const placed = task.async ? await ctx.rounds.placedAt(job.task, job.round, sender) : null;
  if (placed && placed.jobId === jobId) return { status: 'already-accepted' };
  const prior = task.async ? null : await ctx.rounds.acceptedFor(job.task, job.round, sender);
  if (prior && prior.jobId === jobId) return { status: 'already-accepted' };
  if (placed) throw new UpdateRejected('DUPLICATE', `${sender} already has an update trained for round ${job.round} accepted (into buffer ${placed.round})`);

  // Sync: the round the job names takes it. Async: the buffer open now does, `staleness` buffers on.
  const { target, staleness } = task.async ? await currentBuffer(ctx, task, round) : { target: round, staleness: 0 };
  if (target.state !== 'open') throw new UpdateRejected('ROUND_CLOSED', `round ${target.round} is ${target.state}`);
  if (ctx.now() > target.deadlineMs) throw new UpdateRejected('ROUND_CLOSED', `round ${target.round} passed its deadline ${target.cfg.deadline}`);
  await authenticate(ctx, task, round, job);
  if (job.baseHash !== round.baseHash) throw new UpdateRejected('WRONG_BASE', `update is on base ${job.baseHash}, the round's base is ${round.baseHash}`);
  if (job.numSamples < task.limits.minSamples || job.numSamples > task.limits.maxSamples) {
    throw new UpdateRejected('BAD_SAMPLES', `numSamples ${job.numSamples} is outside [${task.limits.minSamples}, ${task.limits.maxSamples}]`);
  }
  if (prior) throw new UpdateRejected('DUPLICATE', `${sender} already has an accepted update in round ${job.round}`);
  if (task.secure) {
    // A masked upload counts only in the masked phase and only from a client whose shares were
    // dealt: without them its masks could not be removed if it dropped.
    if (round.secure?.phase !== 'masked') throw new UpdateRejected('ROUND_CLOSED', `secure round ${job.round} is in its ${round.secure?.phase ?? 'unknown'} phase; masked updates are taken in the masked phase`);
    if (!(await ctx.secure.has(job.task, job.round, 'shares', sender))) throw new UpdateRejected('NOT_SHARED', `${sender} dealt no shares in secure round ${job.round}, so its masks could not be removed`);
  }

  // Take the blob out of the client-writable key first: after the move the client cannot change it
  // between our hash check and the accept. On a retry the blob may already sit in the work key.
  // A delta that came over HTTP sits in the coordinator's own checked key with the verdict the
  // HTTP handler computed on those very bytes: the move hands that verdict over (and deletes it),
  // which saves reading and hashing 4 MB again. A retry after a crash past the move finds no
  // verdict and hashes the work blob itself, which is always right.
  const work = ctx.keys.work(jobId);
  const expectedBytes = uploadBytes(task);
  const moved = (await ctx.redis.eval(
    // KEYS: 1 client blob, 2 work, 3 checked blob, 4 checked verdict.
    // Returns {size of the work key (0 none, -1 not a string, which is dropped), verdict JSON or false}.
    // Coordinator-checked bytes win over the client's key and bring their verdict; client bytes
    // never have one. A key of another type (a hostile client can write a hash or a list there) is dropped.
    `local verdict = false
     if redis.call('EXISTS', KEYS[3]) == 1 then
       redis.call('RENAME', KEYS[3], KEYS[2])
       verdict = redis.call('GET', KEYS[4])
       redis.call('DEL', KEYS[4])
     elseif redis.call('EXISTS', KEYS[1]) == 1 then
       redis.call('RENAME', KEYS[1], KEYS[2])
     end
     local t = redis.call('TYPE', KEYS[2])['ok']
     if t == 'none' then return {0, false} end
     if t ~= 'string' then redis.call('DEL', KEYS[2]) return {-1, false} end
     return {redis.call('STRLEN', KEYS[2]), verdict}`,
    4,
    blobKey(ctx.prefix, sender, job.updateHash),
    work,
    ctx.keys.checked(sender, job.updateHash),
    ctx.keys.checkedVerdict(sender, job.updateHash),
  )) as [number, string | null];
  const size = Number(moved[0]);
  if (size < 0) throw new UpdateRejected('BAD_BLOB', 'the blob key does not hold a string');
  if (size === 0) throw new UpdateRejected('BLOB_MISSING', 'no delta under the update\'s blob key (expired, never written, or taken by another job)');
  if (size > expectedBytes) throw new UpdateRejected('OVERSIZED', `delta has ${size} bytes; the model needs ${expectedBytes}`);
  if (size !== expectedBytes) throw new UpdateRejected('BAD_LENGTH', `delta has ${size} bytes; the model needs ${expectedBytes}`);
  await failpoint('worker.after-blob-move');
  const verdict = decodeVerdict(moved[1]) ?? (await checkWorkBlob(ctx, work, task));
  if (verdict.hash !== job.updateHash) throw new UpdateRejected('HASH_MISMATCH', `delta hashes to ${verdict.hash}, the signed hash is ${job.updateHash}`);
  if (!task.secure && verdict.badEncoding) throw new UpdateRejected('BAD_ENCODING', `not a ${task.wire.codec} delta: ${verdict.badEncoding}`);
  // The float64 sum of squares of finite float32 values cannot overflow at our model sizes, so the
  // norm is non-finite exactly when some value is.
  // A masked upload is uniform ring words: it has no norm to check (clients clip before masking).
  const norm = task.secure ? 0 : verdict.norm;
  if (!Number.isFinite(norm)) throw new UpdateRejected('NON_FINITE', `delta value ${verdict.firstNonFinite} is not finite`);
  if (task.limits.maxNorm > 0 && norm > task.limits.maxNorm) throw new UpdateRejected('NORM_TOO_LARGE', `delta norm ${norm.toFixed(4)} exceeds ${task.limits.maxNorm}`);

  const r = await ctx.rounds.accept(
    job.task,
    target.round,
    sender,
    jobId,
    {
      jobId,
      client: sender,
      updateHash: job.updateHash,
      numSamples: job.numSamples,
      norm,
      at: new Date(ctx.now()).toISOString(),
      // The proof goes into the manifest, where anyone can re-verify it against participationRoot.
      ...('proof' in job ? { proof: job.proof } : {}),
      // Async: which checkpoint it was trained on, and the arrival index the accept script fills in.
      ...(task.async ? { trainedFor: job.round, staleness, arrival: -1 } : {}),
    },
    ctx.now(),
    task.async ? { trainedFor: job.round } : undefined,
  );
  switch (r) {
    case 'accepted': {
      const head = await ctx.rounds.head(job.task, target.round);
      const accepted = head?.accepted ?? 0;
      // Wake the scheduler when the round is full, so it closes now instead of at its next tick.
      if (head && accepted >= head.cfg.maxClients) await ctx.redis.publish(ctx.keys.roundEvents, `${job.task}:${target.round}`);
      return { status: 'accepted', task: job.task, round: target.round, accepted };
    }
    case 'duplicate':
      throw new UpdateRejected('DUPLICATE', task.async ? `${sender} already has an update in buffer ${target.round}, or this update was accepted into another buffer` : `${sender} already has an accepted update in round ${job.round}`);
    case 'full':
      // A full buffer is about to aggregate and the next one to open: the update waits for it (retry).
      if (task.async) throw new Error(`buffer ${target.round} of task ${job.task} filled while the update was checked; retrying into the next`);
      throw new UpdateRejected('ROUND_FULL', `round ${job.round} already has maxClients updates`);
    case 'closed':
    case 'late':
      if (task.async) throw new Error(`buffer ${target.round} of task ${job.task} closed while the update was checked; retrying into the next`);
      throw new UpdateRejected('ROUND_CLOSED', `round ${job.round} closed while the update was checked`);
    case 'missing':
      throw new Error(`work blob ${work} vanished before accept`);
  }
}

/**
 * Async tasks: the buffer an update trained for `trainedFor` goes into (the one open now) and its
 * staleness. Between two buffers (one aggregating, the next about to open) it throws a plain error,
 * so BullMQ retries the job shortly instead of refusing it; after the last buffer it refuses.
 */
async function currentBuffer(ctx: CoordinatorContext, task: Task, trainedFor: RoundHead): Promise<{ target: RoundHead; staleness: number }> {
  const cfg = task.async!;
  const open = await ctx.tasks.openRound(task.id);
  const target = open > 0 ? await ctx.rounds.head(task.id, open) : await ctx.rounds.head(task.id, task.lastRound);
  if (!target) throw new UpdateRejected('ROUND_CLOSED', `task ${task.id} has no open buffer`);
  if (target.state !== 'open') {
    const more = target.state === 'closing' || (target.state !== 'failed' && (target.cfg.buffersLeft ?? 1) > 1);
    if (more) throw new Error(`task ${task.id} is between buffers (round ${target.round} is ${target.state}); retrying`);
    throw new UpdateRejected('ROUND_CLOSED', `task ${task.id} has no open buffer: its last one, round ${target.round}, is ${target.state}`);
  }
  const staleness = target.round - trainedFor.round;
  if (staleness < 0) throw new UpdateRejected('UNKNOWN_ROUND', `round ${trainedFor.round} is after the open buffer ${target.round}`);
  if (staleness > cfg.maxStaleness) {
    throw new UpdateRejected('STALE', `trained on the checkpoint of round ${trainedFor.round}, ${staleness} buffers before the open one (${target.round}); task ${task.id} takes updates at most ${cfg.maxStaleness} buffers stale`);
  }
  return { target, staleness };
}

/** Bytes of one upload: the task's wire codec (protocol/wire-codec.ts), or in a secure task one ring word per parameter. */
export function uploadBytes(task: Task): number {
  return task.secure ? (task.params * task.secure.bits) / 8 : wireBytes(task.wire, task.params);
}

/** The codec the checker decodes an upload with: the task's, or float32 for masked words (their norm is not checked). */
export const checkCodec = (task: Task): WireCodec => (task.secure ? FLOAT32_WIRE : task.wire);

/**
 * Hashes and measures the work blob on a checker thread, which reads it from Redis itself: the 4 MB
 * never pass through this thread. A blob gone since the move is a fault (BlobMissingError), retried.
 */
async function checkWorkBlob(ctx: CoordinatorContext, work: string, task: Task): Promise<BlobVerdict> {
  return ctx.checker.check({ redisKey: work }, checkCodec(task), task.params);
}

/**
 * Who may send this update. Public tasks: a registered wallet's EIP-712 signature. Private tasks:
 * a Groth16 proof that some admitted member (never which one) sent it, bound to this update's
 * EIP-712 digest and to its nullifier, which the accept script then allows once per round.
 */
async function authenticate(ctx: CoordinatorContext, task: Task, round: RoundHead, job: UpdateJob): Promise<void> {
  const msg = { task: job.task, round: job.round, baseHash: job.baseHash, updateHash: job.updateHash, numSamples: job.numSamples };
  if ('nullifier' in job) {
    if (task.privacy !== 'private') throw new UpdateRejected('WRONG_MODE', `task ${job.task} is public: updates are signed by a registered wallet, not proven`);
    const membersRoot = round.cfg.membersRoot;
    if (!membersRoot) throw new UpdateRejected('WRONG_MODE', `round ${job.round} of task ${job.task} has no members root`);
    const ok = await verifyUpdateProof(ctx.domain, membersRoot, job);
    if (!ok) throw new UpdateRejected('BAD_PROOF', `the membership proof does not verify for this update, nullifier and members root ${membersRoot}`);
    return;
  }
  if (task.privacy === 'private') throw new UpdateRejected('WRONG_MODE', `task ${job.task} is private: updates carry a membership proof and a nullifier, not a wallet signature`);
  if (!(await ctx.tasks.isClient(job.task, job.client))) throw new UpdateRejected('UNKNOWN_CLIENT', `${job.client} is not registered for task ${job.task}`);
  let signer: string;
  try {
    signer = recoverUpdateSigner(ctx.domain, msg, job.signature);
  } catch {
    throw new UpdateRejected('BAD_SIGNATURE', 'signature is malformed');
  }
  if (signer !== job.client) throw new UpdateRejected('BAD_SIGNATURE', `update is signed by ${signer}, not by ${job.client}`);
}
