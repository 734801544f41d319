import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Dataset } from './dataset.ts';
import { subset } from './dataset.ts';
import { mnistTrainDraw, mnistTrainRows } from './mnist-full.ts';
import { loadMnist, splitTrainTest } from './mnist.ts';
import { dirichletPartition } from './partition.ts';

/** A data owner's own file: rows of features and integer labels. Parsed: files are a trust boundary. */
const DataFile = z.object({
  x: z.array(z.array(z.number().finite())).min(1),
  y: z.array(z.number().int().min(0)).min(1),
});

/** Loads `{"x": number[][], "y": number[]}` and checks it against the model's input size and classes. */
export async function loadDataFile(path: string, featureShape: number[], classes: number): Promise<Dataset> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
  const r = DataFile.safeParse(raw);
  if (!r.success) throw new Error(`${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { x, y } = r.data;
  const f = featureShape.reduce((a, b) => a * b, 1);
  if (x.length !== y.length) throw new Error(`${path}: ${x.length} rows of x but ${y.length} labels`);
  const flat = new Float32Array(x.length * f);
  x.forEach((row, i) => {
    if (row.length !== f) throw new Error(`${path}: row ${i} has ${row.length} features; the model takes ${f}`);
    flat.set(row, i * f);
  });
  const bad = y.findIndex((l) => l >= classes);
  if (bad >= 0) throw new Error(`${path}: label ${y[bad]} at ${bad} is not below the task's ${classes} classes`);
  return { x: flat, y: Uint8Array.from(y), n: y.length, featureShape, classes };
}

export interface MnistShardSpec {
  index: number;
  of: number;
  alpha: number;
  seed: number;
  /** How many of MNIST's 60,000 training images the clients share (default DEMO_TRAIN_DIGITS). */
  trainDigits?: number;
}

/** The demo's federation: 24,000 training digits over the clients (about 4,800 each for 5). */
export const DEMO_TRAIN_DIGITS = 24_000;

/**
 * One client's share of MNIST's training images for simulations: the same seeded draw of
 * `trainDigits` images and the same Dirichlet label skew in every process, so K separate processes
 * get K disjoint shards. Only this shard's pixels are decoded. Test on mnistTestSet(), which no
 * shard ever contains.
 */
export function mnistShard(s: MnistShardSpec): Dataset {
  const draw = mnistTrainDraw(s.trainDigits ?? DEMO_TRAIN_DIGITS, s.seed);
  const parts = dirichletPartition(draw.labels, s.of, s.alpha, s.seed);
  const mine = parts[s.index];
  if (!mine) throw new Error(`shard ${s.index} of ${s.of} does not exist`);
  return mnistTrainRows(mine.map((k) => draw.rows[k]!));
}

/**
 * A share of the small 10,000-digit set (the `mnist` package, 8,000 train after a seeded split):
 * what the coordinator hands a browser page as sample data, a download of ~1,600 rows, not ~4,800.
 */
export function smallMnistShard(s: Omit<MnistShardSpec, 'trainDigits'>): Dataset {
  const { train } = splitTrainTest(loadMnist(), 8000, s.seed);
  const parts = dirichletPartition(train.y, s.of, s.alpha, s.seed);
  const mine = parts[s.index];
  if (!mine) throw new Error(`shard ${s.index} of ${s.of} does not exist`);
  return subset(train, mine);
}

/** Reshapes a data set's features for a model's input shape (e.g. 784 -> 28x28x1), sizes permitting. */
export function forModel(ds: Dataset, inputShape: number[]): Dataset {
  const want = inputShape.reduce((a, b) => a * b, 1);
  const have = ds.featureShape.reduce((a, b) => a * b, 1);
  if (want !== have) throw new Error(`data has ${have} features per sample; the model takes ${want} ([${inputShape}])`);
  return { ...ds, featureShape: [...inputShape] };
}
