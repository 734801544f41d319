import { createCipheriv, randomBytes } from 'node:crypto';
import { maskWords } from '../protocol/secagg/prg.ts';
import { addWords, zeroWords } from '../protocol/secagg/ring.ts';
const seed = randomBytes(32); const iv = new Uint8Array(16);
const zeros = new Uint8Array(2_000_000);
let t = performance.now();
for (let i = 0; i < 50; i++) { const c = createCipheriv('chacha20', seed, iv); c.update(zeros); }
console.log('openssl 2MB', (performance.now() - t) / 50);
t = performance.now();
for (let i = 0; i < 50; i++) maskWords(seed, 16, 1_000_000);
console.log('maskWords', (performance.now() - t) / 50);
const y = zeroWords(16, 1_000_000); const m = maskWords(seed, 16, 1_000_000);
t = performance.now();
for (let i = 0; i < 50; i++) addWords(y, m, i % 2 ? 1 : -1);
console.log('addWords', (performance.now() - t) / 50);
