/**
 * Ring additions with WebAssembly SIMD: one i16x8.add (or i8x16.add) adds eight 16-bit words (or
 * sixteen bytes) mod 2^bits in one instruction, where V8's JavaScript loop handles two words per
 * step at best (ring.ts SWAR). Masking is a keystream added to the vector once per peer, so this is
 * the inner loop of a secure round (bench: secure-agg).
 *
 * The module is four functions, each `f(acc, src, bytes)`: for 16-byte blocks of `bytes` bytes at
 * the two addresses in its own memory, acc[i] = acc[i] op src[i]. Its bytes are assembled below
 * from the opcodes (WebAssembly core spec 1.0 + the fixed-width SIMD proposal, both in Node 20 and
 * every current browser), so nothing is compiled or downloaded at install. Callers copy data in and
 * out of the module's memory (memcpy speed) in chunks; `simdRing()` is null where WebAssembly SIMD
 * is unavailable, and callers then use ring.ts. test/unit/secagg-mask-engine.test.ts checks it
 * against ring.ts word for word.
 */

/** Bytes of one chunk: the accumulator chunk lives at 0, the source chunk at CHUNK_BYTES. */
export const SIMD_CHUNK_BYTES = 1 << 16;

export interface SimdRing {
  /** The module's memory as bytes: [0, CHUNK) is the accumulator chunk, [CHUNK, 2 CHUNK) the source. */
  readonly memory: Uint8Array;
  /** acc chunk op= src chunk over `bytes` bytes (rounded up to 16; the excess is scratch). */
  run(bits: 16 | 8, sign: 1 | -1, bytes: number): void;
}

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const name = (s: string) => [...leb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

/** One function body: loop over 16-byte blocks with the SIMD opcode `op` (after the 0xfd prefix). */
function body(op: number): number[] {
  const code = [
    0x00, // no locals: the three parameters are the loop's variables
    0x02, 0x40, // block
    0x03, 0x40, // loop
    0x20, 0x02, 0x41, 0x00, 0x4c, 0x0d, 0x01, // if bytes <= 0 (signed): break out of the block
    0x20, 0x00, // address of the store
    0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // v128.load acc
    0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, // v128.load src
    0xfd, ...leb(op), // lane-wise add or sub
    0xfd, 0x0b, 0x04, 0x00, // v128.store
    0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // acc += 16
    0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // src += 16
    0x20, 0x02, 0x41, 0x10, 0x6b, 0x21, 0x02, // bytes -= 16
    0x0c, 0x00, // next block
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];
  return [...leb(code.length), ...code];
}

// i16x8.add 0x8e, i16x8.sub 0x91, i8x16.add 0x6e, i8x16.sub 0x71 (SIMD opcode table).
const OPS = { add16: 0x8e, sub16: 0x91, add8: 0x6e, sub8: 0x71 } as const;
const FUNCS = Object.keys(OPS) as (keyof typeof OPS)[];
const PAGES = (2 * SIMD_CHUNK_BYTES) / 65536;

export const RING_SIMD_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // one type: (i32, i32, i32) -> ()
  ...section(3, [FUNCS.length, ...FUNCS.map(() => 0x00)]),
  ...section(5, [0x01, 0x01, ...leb(PAGES), ...leb(PAGES)]), // one memory, fixed size
  ...section(7, [
    ...leb(FUNCS.length + 1),
    ...name('memory'), 0x02, 0x00,
    ...FUNCS.flatMap((f, i) => [...name(f), 0x00, i]),
  ]),
  ...section(10, [FUNCS.length, ...FUNCS.flatMap((f) => body(OPS[f]))]),
]);

let cached: SimdRing | null | undefined;

/** The SIMD adder of this process (one module instance, used synchronously), or null without SIMD. */
export function simdRing(): SimdRing | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(RING_SIMD_MODULE)) return cached;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(RING_SIMD_MODULE));
    const ex = inst.exports as Record<keyof typeof OPS, (a: number, b: number, n: number) => void> & { memory: WebAssembly.Memory };
    const memory = new Uint8Array(ex.memory.buffer);
    cached = {
      memory,
      run(bits, sign, bytes) {
        const f = bits === 16 ? (sign === 1 ? ex.add16 : ex.sub16) : sign === 1 ? ex.add8 : ex.sub8;
        f(0, SIMD_CHUNK_BYTES, bytes);
      },
    };
  } catch {
    cached = null;
  }
  return cached;
}
