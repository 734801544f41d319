import { BLOB_TTL_SECONDS, HttpPrivateUpdateHeaders, HttpUpdateHeaders, jobSender, type Task, type UpdateJob } from '../../protocol/index.ts';
import { encodeVerdict } from '../infra/check-blob.ts';
import { verifyUpdateProof } from './verify-update-proof.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';
import { checkCodec, uploadBytes } from './process-update.ts';

/**
 * The remote upload path: a client without Redis access sends the raw delta over HTTP; the
 * coordinator hashes and measures it once, stores the bytes with that verdict in its own keys
 * (checked / checkedVerdict, which no client can write), and enqueues the same job a queue client
 * would. Only cheap, certain refusals happen here (headers, unknown sender, size, hash); the worker
 * judges the job by the same rules as a queued one, taking the stored verdict instead of reading and
 * hashing the bytes a second time.
 *
 * The sender is checked before the body is read: a stranger's upload is refused on its headers, so
 * it costs neither a 4 MB buffer nor a hash (the body is drained, not kept).
 */
export async function submitHttpUpdate(
  ctx: CoordinatorContext,
  task: number,
  round: number,
  headers: Record<string, unknown>,
  readBody: (maxBytes: number) => Promise<Uint8Array>,
  /** The task, when the caller has just read it (the route does, to answer 404 first). */
  known?: Task,
): Promise<{ jobId: string; updateHash: string }> {
  const t = known?.id === task ? known : await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  const head = await ctx.rounds.head(task, round);
  if (!head) throw notFound(`round ${round} of task ${task}`);
  const common = { task, round, via: 'http' as const, submittedAt: ctx.now() };
  let job: UpdateJob;
  if (t.privacy === 'private') {
    const h = parseOr400(HttpPrivateUpdateHeaders, headers, 'update headers');
    job = { ...common, updateHash: h['x-fl-update-hash'], nullifier: h['x-fl-nullifier'], baseHash: h['x-fl-base-hash'], numSamples: h['x-fl-num-samples'], proof: h['x-fl-proof'] };
    // Only members may park bytes in Redis: the proof is what a registered wallet is for public
    // tasks. It binds the header's update hash, which the body must then match. The worker
    // verifies it again (it trusts no producer, this one included).
    if (!head.cfg.membersRoot || !(await verifyUpdateProof(ctx.domain, head.cfg.membersRoot, job))) {
      throw new AppError('BAD_PROOF', 403, 'the membership proof does not verify for this update, nullifier and round');
    }
  } else {
    const h = parseOr400(HttpUpdateHeaders, headers, 'update headers');
    // Only registered wallets may park bytes in Redis; the worker re-checks everything else.
    if (!(await ctx.tasks.isClient(task, h['x-fl-client']))) throw new AppError('UNKNOWN_CLIENT', 403, `${h['x-fl-client']} is not registered for task ${task}`);
    job = { ...common, updateHash: h['x-fl-update-hash'], client: h['x-fl-client'], baseHash: h['x-fl-base-hash'], numSamples: h['x-fl-num-samples'], signature: h['x-fl-signature'] };
  }
  const size = uploadBytes(t);
  const body = await readBody(size);
  if (body.byteLength !== size) {
    throw new AppError('BAD_LENGTH', 400, `delta has ${body.byteLength} bytes; the model needs ${size}`);
  }
  // Hashed and measured on a checker thread. The body is lent, not copied: it moves to the thread
  // and comes back with the verdict, to be stored.
  const { bytes: checked, ...verdict } = await ctx.checker.check({ lend: body }, checkCodec(t), t.params);
  const hash = verdict.hash;
  if (hash !== job.updateHash) throw new AppError('HASH_MISMATCH', 400, `body hashes to ${hash}, header says ${job.updateHash}`);
  const sender = jobSender(job);
  // A checker that hands nothing back (a test double may) left the body where it was.
  const bytes = checked ?? body;
  if (bytes.byteLength !== size) throw new Error(`the blob checker handed back ${bytes.byteLength} of the body's ${size} bytes`);
  // Two plain SETs, not a MULTI: ioredis copies a transaction's commands into one more buffer (4 MB
  // of fresh memory per upload on top of the SET's own copy), and nothing needs the pair atomic. The
  // job is enqueued only after both are stored; a blob left without its verdict (a crash between
  // the two) is simply hashed again by the worker, and either key expires on its own.
  const blob = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    await Promise.all([
      ctx.redis.set(ctx.keys.checkedVerdict(sender, hash), encodeVerdict(verdict), 'EX', BLOB_TTL_SECONDS),
      ctx.redis.set(ctx.keys.checked(sender, hash), blob, 'EX', BLOB_TTL_SECONDS),
    ]);
  } catch (e) {
    throw new Error(`could not store the delta: ${e instanceof Error ? e.message : String(e)}`);
  }
  const jobId = await ctx.queue.add(job);
  return { jobId, updateHash: hash };
}
