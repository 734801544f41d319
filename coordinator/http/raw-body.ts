import type { Request } from 'express';
import { AppError } from '../errors.ts';

/** Reads a request body up to maxBytes; answers 413 past it without buffering the rest. */
export async function readRawBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new AppError('PAYLOAD_TOO_LARGE', 413, `body of ${declared} bytes exceeds ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      req.resume();
      throw new AppError('PAYLOAD_TOO_LARGE', 413, `body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const buf = Buffer.concat(chunks, total);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
