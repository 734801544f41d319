// Worker thread of the blob checker (blob-checker.ts). In: a CheckRequest (bytes as an ArrayBuffer,
// transferred, or a view of a SharedArrayBuffer, or a Redis key to read here; wire the task's codec, params its parameter count).
// Out: a CheckReply: { id, verdict } (with a lent buffer transferred back), { id, missing } or { id, error }.
import { parentPort, workerData } from 'node:worker_threads';
import type { RedisTarget } from '../../protocol/redis-target.ts';
import type { CheckReply, CheckRequest } from './blob-checker.ts';
import { checkBlob } from './check-blob.ts';
import { connectRedis, whenReady, type RedisClient } from './redis-connection.ts';

const target = (workerData as { redis: RedisTarget | null }).redis;
let redis: Promise<RedisClient> | undefined;
/** This thread's own connection, opened on the first key it is asked to read. */
function connection(): Promise<RedisClient> {
  if (!target) return Promise.reject(new Error('no Redis target for this checker thread'));
  redis ??= (async () => {
    // As the coordinator's main connection: a command fails after a few retries, which fails the
    // check and so the job, which BullMQ retries. Connection errors surface there, not as events.
    const r = connectRedis(target, { maxRetriesPerRequest: 3 });
    r.on('error', () => {});
    await whenReady(r, target);
    return r;
  })();
  return redis;
}

async function handle(m: CheckRequest): Promise<{ reply: CheckReply; transfer: ArrayBuffer[] }> {
  if ('key' in m) {
    const buf = await (await connection()).getBuffer(m.key);
    if (!buf) return { reply: { id: m.id, missing: true }, transfer: [] };
    // The reply is a view into the Redis parser's pool: hashed where it lies, never copied.
    return { reply: { id: m.id, verdict: await checkBlob(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), m.wire, m.params) }, transfer: [] };
  }
  const verdict = await checkBlob(new Uint8Array(m.buf, m.offset, m.length), m.wire, m.params);
  // Only a transferred ArrayBuffer goes back (shared memory never left its owner).
  return m.lend && m.buf instanceof ArrayBuffer ? { reply: { id: m.id, verdict, buf: m.buf }, transfer: [m.buf] } : { reply: { id: m.id, verdict }, transfer: [] };
}

parentPort!.on('message', (m: CheckRequest) => {
  handle(m).then(
    ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
    (e: unknown) => parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies CheckReply),
  );
});
