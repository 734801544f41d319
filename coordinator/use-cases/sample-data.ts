import { featureSize, subset, type Dataset } from '../../client/data/dataset.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { loadIris } from '../../client/data/iris.ts';
import { smallMnistShard } from '../../client/data/load-data.ts';
import type { Task } from '../../protocol/index.ts';
import { AppError } from '../errors.ts';

/**
 * Sample data for trying the join page: one simulated data owner's share of a public data set that
 * fits the task (MNIST digits for 784 inputs and 10 classes, the same Dirichlet shares as
 * `fl-client join --mnist-shard i/K`; Fisher's iris for 4 inputs and 3 classes), as a CSV the page
 * parses like a file the owner chose. The data comes from npm packages; nothing is downloaded.
 */

export const MAX_SAMPLE_SHARES = 100;

export function parseShard(v: unknown): { index: number; of: number } {
  const m = typeof v === 'string' ? /^(\d+)\/(\d+)$/.exec(v) : null;
  const index = Number(m?.[1]);
  const of = Number(m?.[2]);
  if (!m || of < 1 || of > MAX_SAMPLE_SHARES || index >= of) throw new AppError('BAD_REQUEST', 400, `shard must be i/K with 0 <= i < K <= ${MAX_SAMPLE_SHARES}, e.g. 0/5`);
  return { index, of };
}

/** The share as CSV rows (features then label); 404 NO_SAMPLE_DATA when no bundled set fits the task. */
export function sampleCsv(task: Task, shard: { index: number; of: number }): string {
  const f = featureSize({ featureShape: task.modelSpec.inputShape });
  const classes = task.modelSpec.classes;
  let ds: Dataset;
  if (f === 784 && classes === 10) ds = smallMnistShard({ index: shard.index, of: shard.of, alpha: 0.5, seed: 1 });
  else if (f === 4 && classes === 3) {
    const iris = loadIris();
    ds = subset(iris, iidPartition(iris.n, shard.of, 1)[shard.index]!);
  } else {
    throw new AppError('NO_SAMPLE_DATA', 404, `no sample data fits task ${task.id} (${f} inputs, ${classes} classes); sample data exists for 784 inputs / 10 classes (MNIST) and 4 inputs / 3 classes (iris)`);
  }
  const rows: string[] = [];
  const row: string[] = new Array(f + 1);
  for (let i = 0; i < ds.n; i++) {
    for (let j = 0; j < f; j++) {
      const v = ds.x[i * f + j]!;
      row[j] = v === 0 ? '0' : String(Math.round(v * 1e4) / 1e4);
    }
    row[f] = String(ds.y[i]);
    rows.push(row.join(','));
  }
  return `${rows.join('\n')}\n`;
}
