import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classCounts, subset } from '../../client/data/dataset.ts';
import { loadIris } from '../../client/data/iris.ts';
import { loadMnist, splitTrainTest } from '../../client/data/mnist.ts';
import { dirichletPartition, iidPartition } from '../../client/data/partition.ts';

describe('mnist', () => {
  test('loads 10,000 digits of 784 features in [0, 1] with labels 0-9', () => {
    const ds = loadMnist();
    assert.equal(ds.n, 10_000);
    assert.deepEqual(ds.featureShape, [28, 28, 1]);
    assert.equal(ds.x.length, 10_000 * 784);
    assert.equal(ds.y.length, 10_000);
    assert.equal(ds.classes, 10);
    const counts = classCounts(ds.y, 10);
    assert.ok(counts.every((c) => c > 800 && c < 1200), `class counts ${counts}`);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.ok(min >= 0 && max <= 1 && max > 0.9, `pixel range [${min}, ${max}]`);
  });

  test('splitTrainTest is deterministic per seed, disjoint and sized as asked', () => {
    const ds = loadMnist();
    const a = splitTrainTest(ds, 8000, 5);
    const b = splitTrainTest(ds, 8000, 5);
    const c = splitTrainTest(ds, 8000, 6);
    assert.equal(a.train.n, 8000);
    assert.equal(a.test.n, 2000);
    assert.equal(a.train.x.length, 8000 * 784);
    assert.deepEqual(a.train.y, b.train.y);
    assert.deepEqual(a.test.x.subarray(0, 784 * 5), b.test.x.subarray(0, 784 * 5));
    assert.notDeepEqual(a.train.y, c.train.y);
    // Shuffled, not class-ordered: the first 100 training labels cover most classes.
    assert.ok(new Set(a.train.y.subarray(0, 100)).size >= 8);
    // Train and test together are the whole set (same class histogram).
    const sum = classCounts(a.train.y, 10).map((v, i) => v + classCounts(a.test.y, 10)[i]!);
    assert.deepEqual(sum, classCounts(ds.y, 10));
    assert.throws(() => splitTrainTest(ds, 10_000), RangeError);
  });
});

describe('iris', () => {
  test('150 standardised samples of 4 features, 3 balanced classes', () => {
    const ds = loadIris();
    assert.equal(ds.n, 150);
    assert.deepEqual(ds.featureShape, [4]);
    assert.deepEqual(classCounts(ds.y, 3), [50, 50, 50]);
    for (let j = 0; j < 4; j++) {
      let mean = 0;
      let sq = 0;
      for (let i = 0; i < ds.n; i++) mean += ds.x[i * 4 + j]! / ds.n;
      for (let i = 0; i < ds.n; i++) sq += (ds.x[i * 4 + j]! - mean) ** 2 / ds.n;
      assert.ok(Math.abs(mean) < 1e-5, `feature ${j} mean ${mean}`);
      assert.ok(Math.abs(sq - 1) < 1e-4, `feature ${j} variance ${sq}`);
    }
  });

  test('subset copies the chosen rows in order', () => {
    const ds = loadIris();
    const s = subset(ds, [149, 0, 75]);
    assert.equal(s.n, 3);
    assert.deepEqual([...s.y], [2, 0, 1]);
    assert.deepEqual(s.x.subarray(4, 8), ds.x.subarray(0, 4));
    assert.deepEqual(s.x.subarray(0, 4), ds.x.subarray(149 * 4, 150 * 4));
    assert.throws(() => subset(ds, [150]), RangeError);
  });
});

function assertCover(parts: number[][], n: number): void {
  const seen = new Uint8Array(n);
  for (const p of parts) {
    for (const i of p) {
      assert.ok(i >= 0 && i < n, `index ${i} out of range`);
      assert.equal(seen[i], 0, `index ${i} given to two clients`);
      seen[i] = 1;
    }
  }
  assert.ok(seen.every((v) => v === 1), 'some index was given to no client');
}

describe('partition', () => {
  const labels = loadMnist().y;

  test('dirichlet: deterministic per seed, disjoint, covering, minimum size honoured', () => {
    const a = dirichletPartition(labels, 10, 0.5, 42);
    const b = dirichletPartition(labels, 10, 0.5, 42);
    const c = dirichletPartition(labels, 10, 0.5, 43);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal(a.length, 10);
    assertCover(a, labels.length);
    assert.ok(a.every((p) => p.length >= 10), `sizes ${a.map((p) => p.length)}`);
  });

  test('dirichlet alpha 0.5 skews label mixes; alpha 1000 is close to uniform', () => {
    // Total-variation distance between a client's label mix and the global one.
    const global = classCounts(labels, 10).map((v) => v / labels.length);
    const tv = (part: number[]) => {
      const counts = classCounts(part.map((i) => labels[i]!), 10);
      return counts.reduce((s, v, k) => s + Math.abs(v / part.length - global[k]!), 0) / 2;
    };
    const skewed = dirichletPartition(labels, 10, 0.5, 1).map(tv);
    const flat = dirichletPartition(labels, 10, 1000, 1).map(tv);
    assert.ok(Math.max(...skewed) > 0.4, `max TV at alpha 0.5: ${Math.max(...skewed)}`);
    assert.ok(Math.max(...flat) < 0.1, `max TV at alpha 1000: ${Math.max(...flat)}`);
  });

  test('dirichlet forces the minimum even when draws cannot reach it', () => {
    const parts = dirichletPartition(labels.subarray(0, 500), 20, 0.01, 7, { minPerClient: 20, maxAttempts: 3 });
    assertCover(parts, 500);
    assert.ok(parts.every((p) => p.length >= 20), `sizes ${parts.map((p) => p.length)}`);
    assert.throws(() => dirichletPartition(labels.subarray(0, 50), 10, 1, 1, { minPerClient: 6 }), RangeError);
    assert.throws(() => dirichletPartition(labels, 10, 0, 1), RangeError);
  });

  test('iid: deterministic, disjoint, covering, sizes differ by at most one', () => {
    const a = iidPartition(1003, 10, 9);
    assert.deepEqual(a, iidPartition(1003, 10, 9));
    assert.notDeepEqual(a, iidPartition(1003, 10, 10));
    assertCover(a, 1003);
    const sizes = a.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
  });
});
