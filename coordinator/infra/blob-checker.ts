import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WireCodec } from '../../protocol/index.ts';
import type { RedisTarget } from '../../protocol/redis-target.ts';
import { checkBlob, type BlobVerdict } from './check-blob.ts';
import type { RedisClient } from './redis-connection.ts';

export type { BlobVerdict };

/**
 * What a check reads:
 *   bytes             the checker may take them (do not use them afterwards);
 *   { lend: bytes }   the checker gives them back in the result's `bytes`, uncopied, for a caller
 *                     that still needs them (the HTTP path stores what it checked);
 * bytes over a SharedArrayBuffer are read where they are, neither moved nor copied, and stay the caller's;
 *   { redisKey }      the checker reads the key itself, on the thread that hashes it: the worker's
 *                     main thread never parses, copies or hands over the 4 MB.
 */
export type BlobSource = Uint8Array | { lend: Uint8Array } | { redisKey: string };

export interface CheckedBlob extends BlobVerdict {
  /** A lent source's bytes, handed back (absent for the other sources). */
  bytes?: Uint8Array;
}

export interface BlobChecker {
  /** Hashes and measures the source's bytes, decoded with `wire` (float32 when absent; int8 needs `params`). */
  check(source: BlobSource, wire?: WireCodec, params?: number): Promise<CheckedBlob>;
  close(): Promise<void>;
}

/** The key a `{ redisKey }` source names does not exist (any more): a fault for the caller to retry or report. */
export class BlobMissingError extends Error {
  override readonly name = 'BlobMissingError';
  constructor(readonly key: string) {
    super(`blob ${key} vanished`);
  }
}

/** Where `{ redisKey }` sources are read: the caller's connection inline, a connection of its own per thread. */
export interface CheckerRedis {
  client: RedisClient;
  target: RedisTarget;
}

/** Default threads: every core but one, which stays with Redis I/O and signature recovery. */
export const defaultCheckThreads = () => Math.max(1, cpus().length - 1);

/** A message to a checker thread (blob-check-worker.ts). */
export type CheckRequest = { id: number; wire?: WireCodec; params?: number } & ({ buf: ArrayBuffer | SharedArrayBuffer; offset: number; length: number; lend: boolean } | { key: string });
/** A checker thread's answer: the verdict (and a lent buffer, transferred back), a missing key, or an error. */
export type CheckReply = { id: number; verdict?: BlobVerdict; buf?: ArrayBuffer; missing?: true; error?: string };

const isBytes = (s: BlobSource): s is Uint8Array => s instanceof Uint8Array;

/**
 * Keccak256 and the norm of multi-megabyte deltas, off the main thread. They are most of the
 * worker's CPU per update (measured per 4 MB: keccak 16.8 ms, norm 2.5 ms, against 8 ms for the
 * Redis GET and 3 ms for the signature), so moving them to threads lets the main thread keep
 * fetching and verifying while other cores hash. A queued blob is read by the thread itself
 * (`{ redisKey }`): reading it on the main thread cost a second 4 MB copy (the Redis reply is a view
 * into the parser's shared pool, which cannot be transferred) and most of the main thread's garbage
 * collection. threads = 0 checks inline (same results).
 */
export function createBlobChecker(threads: number, redis?: CheckerRedis): BlobChecker {
  if (threads <= 0) return inlineChecker(redis?.client);
  const url = new URL('./blob-check-thread.mjs', import.meta.url);
  const pending = new Map<number, { resolve: (v: CheckedBlob) => void; reject: (e: Error) => void; key?: string }>();
  let nextId = 0;
  let turn = 0;
  const workers = Array.from({ length: threads }, () => {
    const w = new Worker(url, { execArgv: [], workerData: { redis: redis?.target ?? null } });
    w.on('message', (m: CheckReply) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`blob check failed: ${m.error}`));
      else if (m.missing) p.reject(new BlobMissingError(p.key ?? '?'));
      else p.resolve(m.buf ? { ...m.verdict!, bytes: new Uint8Array(m.buf) } : m.verdict!);
    });
    w.on('error', (e) => {
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(e);
      }
    });
    // Idle threads must not keep a finished process alive.
    w.unref();
    return w;
  });
  return {
    check(source, wire, params) {
      if (!isBytes(source) && 'redisKey' in source && !redis) return Promise.reject(new Error('this blob checker has no Redis to read keys from'));
      const id = nextId++;
      const w = workers[turn++ % workers.length]!;
      let msg: CheckRequest;
      let transfer: ArrayBuffer[] = [];
      let lentCopy: Uint8Array | undefined;
      if (!isBytes(source) && 'redisKey' in source) msg = { id, key: source.redisKey, wire, params };
      else {
        const bytes = isBytes(source) ? source : source.lend;
        if (bytes.buffer instanceof SharedArrayBuffer) {
          // Shared memory: the thread reads it in place; a lender keeps its own view.
          if (!isBytes(source)) lentCopy = bytes;
          msg = { id, buf: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength, lend: false, wire, params };
        } else {
          const buf = transferable(bytes);
          if (!isBytes(source) && buf !== bytes.buffer) lentCopy = bytes;
          msg = { id, buf, offset: 0, length: buf.byteLength, lend: !isBytes(source) && !lentCopy, wire, params };
          transfer = [buf];
        }
      }
      return new Promise<CheckedBlob>((resolve, reject) => {
        pending.set(id, { resolve, reject, ...('key' in msg ? { key: msg.key } : {}) });
        w.ref();
        w.postMessage(msg, transfer);
      })
        // A lent view that was copied or shared, rather than moved, was never the thread's: it is the lender's still.
        .then((r) => (lentCopy ? { ...r, bytes: lentCopy } : r))
        .finally(() => {
          if (pending.size === 0) for (const x of workers) x.unref();
        });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * The memory to post to a thread: the view's own buffer when it covers it whole (then it moves,
 * uncopied), otherwise a copy, so nobody else's bytes move to the thread. (Uint8Array's own slice:
 * a Buffer's slice would be a view, not a copy.)
 */
function transferable(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : Uint8Array.prototype.slice.call(bytes).buffer;
}

function inlineChecker(redis: RedisClient | undefined): BlobChecker {
  return {
    async check(source, wire, params) {
      if (isBytes(source)) return checkBlob(source, wire, params);
      if ('lend' in source) return { ...(await checkBlob(source.lend, wire, params)), bytes: source.lend };
      if (!redis) throw new Error('this blob checker has no Redis to read keys from');
      const buf = await redis.getBuffer(source.redisKey);
      if (!buf) throw new BlobMissingError(source.redisKey);
      return checkBlob(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), wire, params);
    },
    close: async () => {},
  };
}
