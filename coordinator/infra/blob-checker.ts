import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WireCodec } from '../../protocol/index.ts';
import { checkBlob, type BlobVerdict } from './check-blob.ts';

export type { BlobVerdict };

export interface BlobChecker {
  /**
   * Hashes and measures the bytes, decoded with `wire` (float32 when absent; int8 needs `params`).
   * May take ownership of `bytes`: do not use them afterwards.
   */
  check(bytes: Uint8Array, wire?: WireCodec, params?: number): Promise<BlobVerdict>;
  close(): Promise<void>;
}

/** Default threads: every core but one, which stays with Redis I/O and signature recovery. */
export const defaultCheckThreads = () => Math.max(1, cpus().length - 1);

/**
 * Keccak256 and the norm of multi-megabyte deltas, off the main thread. They are most of the
 * worker's CPU per update (measured per 4 MB: keccak 16.8 ms, norm 2.5 ms, against 8 ms for the
 * Redis GET and 3 ms for the signature), so moving them to threads lets the main thread keep
 * fetching and verifying while other cores hash. threads = 0 checks inline (same results).
 */
export function createBlobChecker(threads: number): BlobChecker {
  if (threads <= 0) return { check: checkBlob, close: async () => {} };
  const url = new URL('./blob-check-thread.mjs', import.meta.url);
  const pending = new Map<number, { resolve: (v: BlobVerdict) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let turn = 0;
  const workers = Array.from({ length: threads }, () => {
    const w = new Worker(url, { execArgv: [] });
    w.on('message', (m: { id: number; verdict?: BlobVerdict; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`blob check failed: ${m.error}`));
      else p.resolve(m.verdict!);
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
    check(bytes, wire, params) {
      const id = nextId++;
      const w = workers[turn++ % workers.length]!;
      // Transfer the memory when the view covers its whole buffer (Redis replies of this size do);
      // otherwise copy, so nobody else's bytes move to the thread.
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
      // (Uint8Array's own slice: a Buffer's slice would be a view, not a copy.)
      const buf = whole ? (bytes.buffer as ArrayBuffer) : Uint8Array.prototype.slice.call(bytes).buffer;
      return new Promise<BlobVerdict>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.ref();
        w.postMessage({ id, buf, wire, params }, [buf]);
      }).finally(() => {
        if (pending.size === 0) for (const x of workers) x.unref();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
