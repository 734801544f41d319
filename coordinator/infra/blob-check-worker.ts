// Worker thread of the blob checker (blob-checker.ts). In: { id, buf } (an ArrayBuffer, transferred).
// Out: { id, verdict } or { id, error }.
import { parentPort } from 'node:worker_threads';
import { checkBlob } from './check-blob.ts';

parentPort!.on('message', ({ id, buf }: { id: number; buf: ArrayBuffer }) => {
  checkBlob(new Uint8Array(buf)).then(
    (verdict) => parentPort!.postMessage({ id, verdict }),
    (e: unknown) => parentPort!.postMessage({ id, error: e instanceof Error ? e.message : String(e) }),
  );
});
