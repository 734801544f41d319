import { chacha20 } from '@noble/ciphers/chacha.js';
import { addWords, bytesFromWords, wordsFromBytes, type RingBits, type RingWords } from './ring.ts';
import { SIMD_CHUNK_BYTES, simdRing } from './ring-simd.ts';

/**
 * The mask generator: ChaCha20 keystream (RFC 8439, key = a 32-byte seed, nonce 0, counter 0),
 * read as little-endian ring words. Every seed masks one vector of one round only (seeds are fresh
 * or derived with the round in their context), so a fixed nonce is safe.
 *
 * In Node the keystream comes from OpenSSL's ChaCha20 (node:crypto), about ten times faster than
 * the JavaScript cipher; both are the same function of the key, which test/unit/secagg.test.ts checks.
 */
type Keystream = (seed: Uint8Array, bytes: number) => Uint8Array;
/** A keystream read in order, chunk by chunk: the same bytes as one Keystream call, in pieces. */
type KeystreamReader = (seed: Uint8Array) => (zeros: Uint8Array) => Uint8Array;

const nobleKeystream: Keystream = (seed, bytes) => chacha20(seed, new Uint8Array(12), new Uint8Array(bytes));

let nodeKeystream: Keystream | null = null;
let nodeReader: KeystreamReader | null = null;
if (typeof process !== 'undefined' && process.versions?.node) {
  try {
    const { createCipheriv } = await import('node:crypto');
    // OpenSSL's 16-byte IV is the 32-bit little-endian block counter followed by the 96-bit nonce.
    const iv = new Uint8Array(16);
    nodeKeystream = (seed, bytes) => {
      const c = createCipheriv('chacha20', seed, iv);
      const out = c.update(new Uint8Array(bytes));
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    };
    nodeReader = (seed) => {
      const c = createCipheriv('chacha20', seed, iv);
      return (zeros) => {
        const out = c.update(zeros);
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      };
    };
  } catch {
    nodeKeystream = null;
    nodeReader = null;
  }
}

/** ChaCha20 keystream bytes of a seed; `impl` picks the implementation (tests compare them). */
export function keystream(seed: Uint8Array, bytes: number, impl: 'auto' | 'noble' = 'auto'): Uint8Array {
  if (seed.length !== 32) throw new RangeError(`a mask seed is 32 bytes, got ${seed.length}`);
  return impl === 'auto' && nodeKeystream ? nodeKeystream(seed, bytes) : nobleKeystream(seed, bytes);
}

/** The mask of a seed: `count` pseudo-random ring words. */
export function maskWords(seed: Uint8Array, bits: RingBits, count: number): RingWords {
  return wordsFromBytes(bits, keystream(seed, (count * bits) / 8));
}

export interface Mask {
  seed: Uint8Array;
  /** +1 adds the mask, -1 subtracts it. */
  sign: 1 | -1;
}

const ZERO_CHUNK = new Uint8Array(SIMD_CHUNK_BYTES);

/**
 * acc += sum of sign * mask(seed), mod 2^bits: the same result as addWords(acc, maskWords(seed), sign)
 * for each mask in turn (the ring is commutative), computed in one pass over acc.
 *
 * Why a pass of chunks: expanding a whole 2 MB mask at once allocates fresh memory per peer (glibc
 * maps blocks over 128 kB, so every mask pays page faults), and adding it streams acc through the
 * cache once per peer. Here every cipher yields its next 64 kB, the WebAssembly SIMD adder adds it to
 * acc's chunk while both sit in cache, and acc is read and written once. Measured on the 2-core
 * machine: about 4x less time per mask than expand-then-add (bench: secure-agg). Without OpenSSL or
 * WebAssembly SIMD (a browser) it falls back to expand-then-add with the same bytes.
 */
export function applyMasks(acc: RingWords, bits: RingBits, masks: readonly Mask[]): void {
  if ((acc instanceof Uint16Array ? 16 : 8) !== bits) throw new TypeError(`${bits}-bit masks on words of another width`);
  for (const m of masks) if (m.seed.length !== 32) throw new RangeError(`a mask seed is 32 bytes, got ${m.seed.length}`);
  const simd = nodeReader ? simdRing() : null;
  if (!simd || !nodeReader) {
    for (const m of masks) addWords(acc, maskWords(m.seed, bits, acc.length), m.sign);
    return;
  }
  const bytes = bytesFromWords(acc);
  if (bytes.buffer !== acc.buffer) {
    // A big-endian host: bytesFromWords copied, so work on the words directly.
    for (const m of masks) addWords(acc, maskWords(m.seed, bits, acc.length), m.sign);
    return;
  }
  const readers = masks.map((m) => ({ next: (nodeReader as KeystreamReader)(m.seed), sign: m.sign }));
  const mem = simd.memory;
  for (let off = 0; off < bytes.length; off += SIMD_CHUNK_BYTES) {
    const len = Math.min(SIMD_CHUNK_BYTES, bytes.length - off);
    const zeros = len === SIMD_CHUNK_BYTES ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, len);
    mem.set(bytes.subarray(off, off + len), 0);
    for (const r of readers) {
      mem.set(r.next(zeros), SIMD_CHUNK_BYTES);
      simd.run(bits, r.sign, len);
    }
    bytes.set(mem.subarray(0, len), off);
  }
}
