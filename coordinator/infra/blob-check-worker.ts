// Worker thread of the blob checker (blob-checker.ts). In: { id, buf, wire?, params? } (buf an
// ArrayBuffer, transferred; wire the task's codec, params its parameter count).
// Out: { id, verdict } or { id, error }.
import { parentPort } from 'node:worker_threads';
import type { WireCodec } from '../../protocol/index.ts';
import { checkBlob } from './check-blob.ts';

parentPort!.on('message', ({ id, buf, wire, params }: { id: number; buf: ArrayBuffer; wire?: WireCodec; params?: number }) => {
  checkBlob(new Uint8Array(buf), wire, params).then(
    (verdict) => parentPort!.postMessage({ id, verdict }),
    (e: unknown) => parentPort!.postMessage({ id, error: e instanceof Error ? e.message : String(e) }),
  );
});
