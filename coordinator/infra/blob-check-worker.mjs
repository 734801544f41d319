// Worker thread of the blob checker (coordinator/infra/blob-checker.ts). Plain JavaScript so that it
// loads without the TypeScript loader. In: { id, buf: ArrayBuffer, offset, length } (the buffer is
// transferred, not copied). Out: { id, hash, norm, firstNonFinite } or { id, error }.
import { parentPort } from 'node:worker_threads';
import { createKeccak } from 'hash-wasm';

const hasher = await createKeccak(256);

parentPort.on('message', ({ id, buf, offset, length }) => {
  try {
    const bytes = new Uint8Array(buf, offset, length);
    hasher.init();
    hasher.update(bytes);
    const hash = `0x${hasher.digest('hex')}`;
    let norm = NaN;
    let firstNonFinite = -1;
    if (length % 4 === 0) {
      // Little-endian float32 (the wire format); copy when unaligned so the view is legal.
      const f = offset % 4 === 0 ? new Float32Array(buf, offset, length / 4) : new Float32Array(bytes.slice().buffer);
      let s = 0;
      for (let i = 0; i < f.length; i++) s += f[i] * f[i];
      norm = Math.sqrt(s);
      if (!Number.isFinite(norm)) {
        for (let i = 0; i < f.length; i++) {
          if (f[i] - f[i] !== 0) {
            firstNonFinite = i;
            break;
          }
        }
      }
    }
    parentPort.postMessage({ id, hash, norm, firstNonFinite });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
