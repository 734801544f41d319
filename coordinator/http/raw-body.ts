import type { Request } from 'express';
import { AppError } from '../errors.ts';

/**
 * Reusable memory for request bodies of one known size (a task's delta): a 4 MB body read into
 * fresh memory costs page faults on every byte and, on this thread's large heap, a share of a full
 * garbage collection; read into a buffer used before, it is a plain copy. The buffers are shared
 * (SharedArrayBuffer), so a checker thread hashes them where they are.
 */
export interface BodyPool {
  /** A buffer of `size` bytes, reused when one is free. */
  take(size: number): Uint8Array;
  /** Hands a buffer back once nothing reads it any more (no pending hash, the Redis write done). */
  give(buf: Uint8Array): void;
}

/** At most `keep` free buffers, and none above `maxBytes` (larger bodies are not pooled). */
export function bodyPool(keep = 8, maxBytes = 64 * 1024 * 1024): BodyPool {
  const free = new Map<number, Uint8Array[]>();
  let count = 0;
  return {
    take(size) {
      const list = free.get(size);
      const b = list?.pop();
      if (b) {
        count--;
        return b;
      }
      return new Uint8Array(new SharedArrayBuffer(size));
    },
    give(buf) {
      if (!(buf.buffer instanceof SharedArrayBuffer) || buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength || buf.byteLength > maxBytes) return;
      if (count >= keep) return;
      const list = free.get(buf.byteLength) ?? [];
      list.push(buf);
      free.set(buf.byteLength, list);
      count++;
    },
  };
}

/**
 * Reads a request body up to maxBytes; answers 413 past it without buffering the rest. With a pool
 * and a declared length of exactly maxBytes (an upload of the expected size), the body lands in a
 * pooled buffer, which the caller gives back when done with it.
 */
export async function readRawBody(req: Request, maxBytes: number, pool?: BodyPool): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new AppError('PAYLOAD_TOO_LARGE', 413, `body of ${declared} bytes exceeds ${maxBytes}`);
  }
  const target = pool && declared === maxBytes && maxBytes > 0 ? pool.take(maxBytes) : null;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (total + chunk.length > maxBytes) {
      req.resume();
      throw new AppError('PAYLOAD_TOO_LARGE', 413, `body exceeds ${maxBytes} bytes`);
    }
    if (target) target.set(chunk, total);
    else chunks.push(chunk);
    total += chunk.length;
  }
  if (target) return total === target.byteLength ? target : target.subarray(0, total);
  const buf = Buffer.concat(chunks, total);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
