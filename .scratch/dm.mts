import { detExp, detLog } from '../protocol/scoring/det-math.ts';
let maxE = 0, maxL = 0;
for (let i = 0; i < 200000; i++) {
  const x = (Math.random() - 0.5) * 200; const e = detExp(x); const r = Math.abs(e - Math.exp(x)) / Math.exp(x); if (r > maxE) maxE = r;
  const y = Math.exp((Math.random() - 0.5) * 100); const l = detLog(y); const rl = Math.abs(l - Math.log(y)) / Math.max(1e-300, Math.abs(Math.log(y))); if (rl > maxL && Math.abs(Math.log(y)) > 1e-3) maxL = rl;
}
console.log('exp rel err', maxE, 'log rel err', maxL, detLog(1), detExp(0), detLog(Math.E), detExp(-744), detExp(709));
