const N = 1_000_000;
const a = new Uint16Array(N).map((_, i) => (i * 7919) & 0xffff), b = new Uint16Array(N).map((_, i) => (i * 104729 + 3) & 0xffff);
function add16(a, b) { for (let i = 0; i < a.length; i++) a[i] = a[i] + b[i]; }
function swarAdd(a, b) { const x = new Int32Array(a.buffer, a.byteOffset, a.length >> 1), y = new Int32Array(b.buffer, b.byteOffset, b.length >> 1);
  for (let i = 0; i < x.length; i++) { const p = x[i], q = y[i]; x[i] = ((p & 0x7fff7fff) + (q & 0x7fff7fff)) ^ ((p ^ q) & 0x80008000); } }
function swarSub(a, b) { const x = new Int32Array(a.buffer, a.byteOffset, a.length >> 1), y = new Int32Array(b.buffer, b.byteOffset, b.length >> 1);
  for (let i = 0; i < x.length; i++) { const p = x[i], q = y[i]; x[i] = (((p | 0x80008000) - (q & 0x7fff7fff)) | 0) ^ ((p ^ ~q) & 0x80008000); } }
const ref = a.slice(); add16(ref, b); const t1 = a.slice(); swarAdd(t1, b); console.log('add eq', ref.every((v, i) => v === t1[i]));
const refs = a.slice(); for (let i = 0; i < N; i++) refs[i] = refs[i] - b[i]; const t2 = a.slice(); swarSub(t2, b); console.log('sub eq', refs.every((v, i) => v === t2[i]));
const bench = (name, f) => { const c = a.slice(); for (let i = 0; i < 5; i++) f(c, b); const t = performance.now(); for (let i = 0; i < 40; i++) f(c, b); console.log(name, ((performance.now() - t) / 40).toFixed(3)); };
bench('add16', add16); bench('swarAdd', swarAdd); bench('swarSub', swarSub);
const f32 = new Float32Array(N), g = new Float32Array(N).fill(0.5);
bench('fold f32', () => { for (let i = 0; i < N; i++) f32[i] += 0.3 * g[i]; });
