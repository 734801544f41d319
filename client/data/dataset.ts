/**
 * An in-memory labelled data set: n samples of prod(featureShape) float32 features each, stored
 * row-major in one buffer so slicing, shuffling and uploading to TensorFlow stay cheap.
 */
export interface Dataset {
  x: Float32Array;
  /** Class labels in [0, classes). */
  y: Uint8Array;
  n: number;
  featureShape: number[];
  classes: number;
}

/** Number of features per sample. */
export function featureSize(ds: Pick<Dataset, 'featureShape'>): number {
  return ds.featureShape.reduce((a, b) => a * b, 1);
}

/** Copies the samples at `indices` (in that order) into a new data set. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const f = featureSize(ds);
  const x = new Float32Array(indices.length * f);
  const y = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new RangeError(`subset: index ${i} is outside [0, ${ds.n})`);
    x.set(ds.x.subarray(i * f, (i + 1) * f), k * f);
    y[k] = ds.y[i] as number;
  }
  return { x, y, n: indices.length, featureShape: [...ds.featureShape], classes: ds.classes };
}

/** Samples per class, e.g. to show how skewed a client's partition is. */
export function classCounts(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i] as number]! += 1;
  return counts;
}
