import { blobKey, BLOB_TTL_SECONDS, HttpUpdateHeaders } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';

/**
 * The remote upload path: a client without Redis access sends the raw delta over HTTP; the
 * coordinator stores it where a queue client would have, and enqueues the same job. Only cheap,
 * certain checks happen here (size, hash); everything else is the worker's, so both paths are
 * judged by one set of rules.
 */
export async function submitHttpUpdate(
  ctx: CoordinatorContext,
  task: number,
  round: number,
  headers: Record<string, unknown>,
  body: Uint8Array,
): Promise<{ jobId: string; updateHash: string }> {
  const h = parseOr400(HttpUpdateHeaders, headers, 'update headers');
  const t = await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  if (!(await ctx.rounds.head(task, round))) throw notFound(`round ${round} of task ${task}`);
  if (body.byteLength !== t.params * 4) {
    throw new AppError('BAD_LENGTH', 400, `delta has ${body.byteLength} bytes; the model needs ${t.params * 4}`);
  }
  // Hashed on a checker thread (on a copy: the thread takes what it is given, and we still store the body).
  const { hash } = await ctx.checker.check(Uint8Array.prototype.slice.call(body));
  if (hash !== h['x-fl-update-hash']) throw new AppError('HASH_MISMATCH', 400, `body hashes to ${hash}, header says ${h['x-fl-update-hash']}`);
  // Only registered wallets may park bytes in Redis; the worker re-checks everything else.
  if (!(await ctx.tasks.isClient(task, h['x-fl-client']))) throw new AppError('UNKNOWN_CLIENT', 403, `${h['x-fl-client']} is not registered for task ${task}`);
  await ctx.redis.set(blobKey(ctx.prefix, h['x-fl-client'], hash), Buffer.from(body.buffer, body.byteOffset, body.byteLength), 'EX', BLOB_TTL_SECONDS);
  const jobId = await ctx.queue.add({
    task,
    round,
    client: h['x-fl-client'],
    baseHash: h['x-fl-base-hash'],
    updateHash: hash,
    numSamples: h['x-fl-num-samples'],
    signature: h['x-fl-signature'],
    via: 'http',
    submittedAt: ctx.now(),
  });
  return { jobId, updateHash: hash };
}
