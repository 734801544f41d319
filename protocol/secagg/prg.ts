import { chacha20 } from '@noble/ciphers/chacha.js';
import { wordsFromBytes, type RingBits, type RingWords } from './ring.ts';

/**
 * The mask generator: ChaCha20 keystream (RFC 8439, key = a 32-byte seed, nonce 0, counter 0),
 * read as little-endian ring words. Every seed masks one vector of one round only (seeds are fresh
 * or derived with the round in their context), so a fixed nonce is safe.
 *
 * In Node the keystream comes from OpenSSL's ChaCha20 (node:crypto), about ten times faster than
 * the JavaScript cipher; both are the same function of the key, which test/unit/secagg.test.ts checks.
 */
type Keystream = (seed: Uint8Array, bytes: number) => Uint8Array;

const nobleKeystream: Keystream = (seed, bytes) => chacha20(seed, new Uint8Array(12), new Uint8Array(bytes));

let nodeKeystream: Keystream | null = null;
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
  } catch {
    nodeKeystream = null;
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
