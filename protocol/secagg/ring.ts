/**
 * Words of the ring Z_{2^bits}, bits 16 or 8, as typed arrays: a Uint16Array or Uint8Array wraps on
 * every store, so plain += and -= are exact modular arithmetic with no masking code.
 * Byte form: little-endian words, params * bits / 8 bytes (the upload and the PRG output alike).
 */
export type RingBits = 16 | 8;
export type RingWords = Uint16Array | Uint8Array;

export function zeroWords(bits: RingBits, count: number): RingWords {
  return bits === 16 ? new Uint16Array(count) : new Uint8Array(count);
}

/** Views little-endian bytes as words (copying only when the bytes are unaligned or the host is big-endian). */
export function wordsFromBytes(bits: RingBits, bytes: Uint8Array): RingWords {
  if (bits === 8) return bytes;
  if (bytes.byteLength % 2 !== 0) throw new RangeError(`${bytes.byteLength} bytes are not a whole number of 16-bit words`);
  if (bytes.byteOffset % 2 === 0 && LITTLE_ENDIAN) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const out = new Uint16Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = (bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8);
  return out;
}

export function bytesFromWords(words: RingWords): Uint8Array {
  if (words instanceof Uint8Array) return words;
  if (LITTLE_ENDIAN) return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const out = new Uint8Array(words.length * 2);
  for (let i = 0; i < words.length; i++) {
    out[2 * i] = (words[i] as number) & 0xff;
    out[2 * i + 1] = (words[i] as number) >>> 8;
  }
  return out;
}

/** acc += sign * w, elementwise mod 2^bits. */
export function addWords(acc: RingWords, w: RingWords, sign: 1 | -1 = 1): void {
  if (acc.length !== w.length) throw new RangeError(`word counts differ: ${acc.length} vs ${w.length}`);
  // One monomorphic loop per array type and sign: a loop shared by both types runs ~10x slower.
  if (acc instanceof Uint16Array && w instanceof Uint16Array) {
    if (sign === 1) add16(acc, w);
    else sub16(acc, w);
  } else if (acc instanceof Uint8Array && w instanceof Uint8Array) {
    if (sign === 1) add8(acc, w);
    else sub8(acc, w);
  } else throw new TypeError('adding words of two ring widths');
}
/*
 * The 16-bit loops work on two words per 32-bit lane (SWAR, Hacker's Delight §2-18): the low 15
 * bits of each word are added with the carry kept inside the word, and the top bit is fixed up with
 * XOR, so no carry crosses into the neighbouring word. About 1.5x the plain loop in V8; the plain
 * loop remains for the odd tail and for views not aligned to 4 bytes. Test: secagg.test.ts.
 */
const LOW15 = 0x7fff7fff;
const TOP = 0x80008000 | 0;
function lanes(a: Uint16Array, b: Uint16Array): [Int32Array, Int32Array] | null {
  if (a.byteOffset % 4 !== 0 || b.byteOffset % 4 !== 0) return null;
  return [new Int32Array(a.buffer, a.byteOffset, a.length >> 1), new Int32Array(b.buffer, b.byteOffset, b.length >> 1)];
}
function add16(a: Uint16Array, b: Uint16Array) {
  const l = lanes(a, b);
  let from = 0;
  if (l) {
    const [x, y] = l;
    for (let i = 0; i < x.length; i++) {
      const p = x[i]!;
      const q = y[i]!;
      x[i] = ((p & LOW15) + (q & LOW15)) ^ ((p ^ q) & TOP);
    }
    from = x.length * 2;
  }
  for (let i = from; i < a.length; i++) a[i] = a[i]! + b[i]!;
}
function sub16(a: Uint16Array, b: Uint16Array) {
  const l = lanes(a, b);
  let from = 0;
  if (l) {
    const [x, y] = l;
    for (let i = 0; i < x.length; i++) {
      const p = x[i]!;
      const q = y[i]!;
      x[i] = (((p | TOP) - (q & LOW15)) | 0) ^ ((p ^ ~q) & TOP);
    }
    from = x.length * 2;
  }
  for (let i = from; i < a.length; i++) a[i] = a[i]! - b[i]!;
}
function add8(a: Uint8Array, b: Uint8Array) {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + b[i]!;
}
function sub8(a: Uint8Array, b: Uint8Array) {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! - b[i]!;
}

/** A word read as a two's-complement signed integer of `bits` bits. */
export function signedWord(bits: RingBits, w: number): number {
  const half = bits === 16 ? 0x8000 : 0x80;
  return w >= half ? w - 2 * half : w;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
