import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StrategyConfig, type ServerState } from '../../protocol/index.ts';
import {
  adamServerStep,
  coordinateMedian,
  createStrategy,
  foldWeighted,
  krumScores,
  multiKrumSelect,
  StrategyError,
  trimCount,
  trimmedMean,
  type AggregateInput,
  type ClientDelta,
  type StrategyErrorCode,
} from '../../coordinator/strategies/index.ts';

/** [id, delta values, numSamples] */
type Row = [string, number[], number];

const f32 = (xs: number[]) => new Float32Array(xs);
const emptyState = (): ServerState => ({ scalars: {}, tensors: {} });

/** An AggregateInput whose deltas() is an async generator over fresh arrays; counts how often it is opened. */
function inputOf(base: number[], rows: Row[], serverState: ServerState = emptyState()) {
  const deltas = rows.map(([id, d, n]): ClientDelta => ({ id, delta: f32(d), numSamples: n }));
  const opened = { count: 0 };
  const input: AggregateInput = {
    base: f32(base),
    serverState,
    count: rows.length,
    deltas: async function* () {
      opened.count++;
      for (const d of deltas) yield d;
    },
  };
  return { input, deltas, opened };
}

/**
 * An input whose generator reuses ONE buffer for every delta, overwriting it before each yield. A
 * strategy that kept a reference instead of consuming (or copying) each delta before asking for the
 * next would see only the last client's values.
 */
function reusedBufferInput(base: number[], rows: Row[]): AggregateInput {
  return {
    base: f32(base),
    serverState: emptyState(),
    count: rows.length,
    deltas: async function* () {
      const buf = new Float32Array(base.length);
      for (const [id, d, n] of rows) {
        buf.set(d);
        yield { id, delta: buf, numSamples: n };
      }
    },
  };
}

function assertClose(actual: ArrayLike<number>, expected: number[], tol = 1e-6) {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) < tol, `index ${i}: got ${a}, expected ${e}`);
  }
}

async function assertStrategyError(p: Promise<unknown> | (() => unknown), code: StrategyErrorCode) {
  const run = typeof p === 'function' ? async () => p() : () => p;
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof StrategyError, `expected StrategyError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const ADAM: StrategyConfig = { name: 'fedadam', serverLr: 1, beta1: 0.5, beta2: 0.75, tau: 1 };

describe('aggregate-math', () => {
  test('foldWeighted adds weight x delta into the accumulator only', () => {
    const acc = f32([1, 2, -1]);
    const delta = f32([4, -2, 0.5]);
    foldWeighted(acc, delta, 0.5);
    // [1 + 0.5*4, 2 + 0.5*-2, -1 + 0.5*0.5] = [3, 1, -0.75]
    assert.deepEqual([...acc], [3, 1, -0.75]);
    assert.deepEqual([...delta], [4, -2, 0.5]);
  });

  test('coordinateMedian: odd count takes the middle value', () => {
    // coord 0: sorted [1, 3, 5] -> 3; coord 1: sorted [-7, 0, 2] -> 0
    const out = coordinateMedian([f32([1, 0]), f32([5, -7]), f32([3, 2])]);
    assert.deepEqual([...out], [3, 0]);
  });

  test('coordinateMedian: even count takes the mean of the two middle values', () => {
    // coord 0: sorted [1, 2, 4, 10] -> (2 + 4) / 2 = 3; coord 1: sorted [-1, 0, 1, 100] -> (0 + 1) / 2 = 0.5
    const out = coordinateMedian([f32([1, 100]), f32([10, 0]), f32([2, -1]), f32([4, 1])]);
    assert.deepEqual([...out], [3, 0.5]);
  });

  test('trimmedMean drops floor(n x fraction) values at each end', () => {
    const ds = [f32([1, 5]), f32([100, 6]), f32([3, -50]), f32([2, 7]), f32([4, 8])];
    // n = 5, fraction 0.2 -> drop 1 each end.
    // coord 0: sorted [1, 2, 3, 4, 100] -> mean(2, 3, 4) = 3
    // coord 1: sorted [-50, 5, 6, 7, 8] -> mean(5, 6, 7) = 6
    assert.deepEqual([...trimmedMean(ds, 0.2)], [3, 6]);
    // fraction 0.1 -> floor(0.5) = 0 dropped: coord 0 = (1+100+3+2+4)/5 = 22, coord 1 = (5+6-50+7+8)/5 = -4.8
    assertClose(trimmedMean(ds, 0.1), [22, -4.8]);
  });

  test('trimCount is floor(n x fraction), robust to binary rounding', () => {
    assert.equal(trimCount(5, 0.2), 1); // 5 * 0.2 = 1
    assert.equal(trimCount(9, 0.2), 1); // 9 * 0.2 = 1.8 -> 1
    assert.equal(trimCount(100, 0.29), 29); // 100 * 0.29 is 28.999999999999996 in doubles; 29 is meant
    assert.equal(trimCount(3, 0), 0);
    assert.throws(() => trimCount(4, 0.5), StrategyError);
  });

  // Four honest points in a unit square and one far outlier.
  const A = f32([0, 0]);
  const B = f32([1, 0]);
  const C = f32([0, 2]);
  const D = f32([1, 1]);
  const E = f32([10, 10]);

  test('krumScores sum the n - f - 2 smallest squared distances', () => {
    // n = 5, f = 1 -> 2 nearest neighbours. Squared distances:
    //   A: B 1, C 4, D 2, E 200        -> 1 + 2   = 3
    //   B: A 1, C 5, D 1, E 81+100=181 -> 1 + 1   = 2
    //   C: A 4, B 5, D 2, E 100+64=164 -> 2 + 4   = 6
    //   D: A 2, B 1, C 2, E 81+81=162  -> 1 + 2   = 3
    //   E: A 200, B 181, C 164, D 162  -> 162+164 = 326
    assert.deepEqual([...krumScores([A, B, C, D, E], 1)], [3, 2, 6, 3, 326]);
  });

  test('multiKrumSelect takes the lowest scores, ties to the lower index', () => {
    // Scores [3, 2, 6, 3, 326]: best B(1), then A(0) and D(3) tie at 3 -> A first.
    assert.deepEqual(multiKrumSelect([A, B, C, D, E], 1, 3), [1, 0, 3]);
    assert.deepEqual(multiKrumSelect([A, B, C, D, E], 1, 1), [1]);
  });

  test('adamServerStep returns new arrays and leaves its inputs alone', () => {
    const w = f32([1, 1]);
    const g = f32([2, -4]);
    const m = f32([0, 0]);
    const v = f32([0, 0]);
    const r = adamServerStep(w, g, { m, v }, { serverLr: 1, beta1: 0.5, beta2: 0.75, tau: 1 });
    // m = 0.5*[2,-4] = [1,-2]; v = 0.25*[4,16] = [1,4]; w = [1 + 1/(1+1), 1 - 2/(2+1)] = [1.5, 0.333333]
    assertClose(r.m, [1, -2]);
    assertClose(r.v, [1, 4]);
    assertClose(r.weights, [1.5, 1 / 3]);
    assert.deepEqual([...w, ...g, ...m, ...v], [1, 1, 2, -4, 0, 0, 0, 0]);
  });
});

describe('FedAvg', () => {
  test('next weights = base + sample-weighted mean delta', async () => {
    const { input, opened } = inputOf([1, 2, 3], [
      ['a', [1, 0, -1], 1],
      ['b', [4, 2, 2], 3],
    ]);
    const r = await createStrategy({ name: 'fedavg' }).aggregate(input);
    // sum = 1*[1,0,-1] + 3*[4,2,2] = [13, 6, 5]; mean = /4 = [3.25, 1.5, 1.25]; + base = [4.25, 3.5, 4.25]
    assert.deepEqual([...r.weights], [4.25, 3.5, 4.25]);
    assert.deepEqual(r.used, ['a', 'b']);
    assert.equal(opened.count, 1, 'deltas() opened exactly once');
  });

  test('consumes the async stream once, one delta at a time (a reused buffer still averages correctly)', async () => {
    const rows: Row[] = [
      ['a', [2, 0], 1],
      ['b', [0, 4], 1],
      ['c', [4, 8], 2],
    ];
    // Control: a consumer that buffers references before using them sees only the last delta,
    // so a correct FedAvg result below proves each delta was folded before the next was produced.
    const held: Float32Array[] = [];
    for await (const d of reusedBufferInput([0, 0], rows).deltas()) held.push(d.delta);
    assert.deepEqual(held.map((h) => [...h]), [[4, 8], [4, 8], [4, 8]]);

    const input = reusedBufferInput([0, 0], rows);
    const inner = input.deltas;
    let opened = 0;
    let pulls = 0;
    input.deltas = async function* () {
      opened++;
      for await (const d of inner()) {
        pulls++;
        yield d;
      }
    };
    const r = await createStrategy({ name: 'fedavg' }).aggregate(input);
    // (1*[2,0] + 1*[0,4] + 2*[4,8]) / 4 = [10, 20] / 4 = [2.5, 5]
    assert.deepEqual([...r.weights], [2.5, 5]);
    assert.equal(opened, 1, 'deltas() opened once');
    assert.equal(pulls, 3, 'each delta pulled once');
  });

  test('passes the server state through unchanged', async () => {
    const state: ServerState = { scalars: { x: 7 }, tensors: { extra: f32([1, 2]) } };
    const { input } = inputOf([0], [['a', [1], 1]], state);
    const r = await createStrategy({ name: 'fedavg' }).aggregate(input);
    assert.deepEqual(r.serverState.scalars, { x: 7 });
    assert.deepEqual([...(r.serverState.tensors.extra as Float32Array)], [1, 2]);
  });
});

describe('FedAdam', () => {
  test('two steps with state carried from step 1 to step 2; inputs unmodified', async () => {
    const strategy = createStrategy(ADAM); // eta = 1, beta1 = 0.5, beta2 = 0.75, tau = 1
    const s1 = inputOf([1, 1], [
      ['a', [1, -2], 1],
      ['b', [3, -6], 1],
    ]);
    const r1 = await strategy.aggregate(s1.input);
    // Step 1: D = ([1,-2] + [3,-6]) / 2 = [2, -4]; m0 = v0 = 0 (missing state)
    //   m = 0.5*0 + 0.5*[2,-4]       = [1, -2]
    //   v = 0.75*0 + 0.25*[4,16]     = [1, 4]
    //   w = [1,1] + [1/(1+1), -2/(2+1)] = [1.5, 0.3333333]
    assertClose(r1.weights, [1.5, 1 / 3]);
    assertClose(r1.serverState.tensors.m as Float32Array, [1, -2]);
    assertClose(r1.serverState.tensors.v as Float32Array, [1, 4]);
    assert.equal(r1.serverState.scalars.t, 1);
    assert.deepEqual(s1.input.serverState, { scalars: {}, tensors: {} }, 'input state not mutated');
    assert.deepEqual([...s1.input.base], [1, 1]);
    assert.deepEqual([...s1.deltas[0]!.delta, ...s1.deltas[1]!.delta], [1, -2, 3, -6]);

    const m1 = (r1.serverState.tensors.m as Float32Array).slice();
    const v1 = (r1.serverState.tensors.v as Float32Array).slice();
    const s2 = inputOf([...r1.weights], [['c', [0, 4], 5]], r1.serverState);
    const r2 = await strategy.aggregate(s2.input);
    // Step 2: D = [0, 4]
    //   m = 0.5*[1,-2] + 0.5*[0,4]    = [0.5, 1]
    //   v = 0.75*[1,4] + 0.25*[0,16]  = [0.75, 7]
    //   w = [1.5 + 0.5/(sqrt(0.75)+1), 0.3333333 + 1/(sqrt(7)+1)]
    //     = [1.5 + 0.5/1.8660254, 0.3333333 + 1/3.6457513] = [1.7679492, 0.6076252]
    assertClose(r2.weights, [1.7679492, 0.6076252]);
    assertClose(r2.serverState.tensors.m as Float32Array, [0.5, 1]);
    assertClose(r2.serverState.tensors.v as Float32Array, [0.75, 7]);
    assert.equal(r2.serverState.scalars.t, 2);
    // Step 1's returned state (step 2's input) is untouched and not aliased by step 2's result.
    assert.deepEqual(r1.serverState.tensors.m, m1);
    assert.deepEqual(r1.serverState.tensors.v, v1);
    assert.equal(r1.serverState.scalars.t, 1);
    assert.notEqual(r2.serverState.tensors.m, r1.serverState.tensors.m);
  });
});

describe('FedAvgM and FedYogi', () => {
  test('FedAvgM: velocity u = beta u + D, w = w + eta u, carried across rounds in the state', async () => {
    const strategy = createStrategy({ name: 'fedavgm', serverLr: 0.5, momentum: 0.5 });
    const s1 = inputOf([1, 1], [
      ['a', [2, -4], 1],
      ['b', [4, 0], 3],
    ]);
    const r1 = await strategy.aggregate(s1.input);
    // D = (1*[2,-4] + 3*[4,0]) / 4 = [3.5, -1]; u = 0.5*0 + D = [3.5, -1]; w = [1,1] + 0.5 u = [2.75, 0.5]
    assertClose(r1.weights, [2.75, 0.5]);
    assertClose(r1.serverState.tensors.u as Float32Array, [3.5, -1]);
    assert.deepEqual(s1.input.serverState, { scalars: {}, tensors: {} }, 'input state not mutated');
    const r2 = await strategy.aggregate(inputOf([...r1.weights], [['c', [1, 1], 1]], r1.serverState).input);
    // u = 0.5*[3.5,-1] + [1,1] = [2.75, 0.5]; w = [2.75,0.5] + 0.5 u = [4.125, 0.75]
    assertClose(r2.weights, [4.125, 0.75]);
    assertClose(r2.serverState.tensors.u as Float32Array, [2.75, 0.5]);
    assertClose(r1.serverState.tensors.u as Float32Array, [3.5, -1]);
  });

  test('FedAvgM with momentum 0 and server lr 1 is FedAvg, byte for byte', async () => {
    const rows: Row[] = [['a', [0.1, -0.3, 7], 3], ['b', [0.2, 0.25, -1], 5]];
    const avg = await createStrategy({ name: 'fedavg' }).aggregate(inputOf([1, 2, 3], rows).input);
    const m = await createStrategy({ name: 'fedavgm', serverLr: 1, momentum: 0 }).aggregate(inputOf([1, 2, 3], rows).input);
    assert.deepEqual(bytes(m.weights), bytes(avg.weights));
  });

  test('FedYogi: v starts at tau^2 and moves by at most (1 - beta2) D^2 a step', async () => {
    const strategy = createStrategy({ name: 'fedyogi', serverLr: 1, beta1: 0.5, beta2: 0.75, tau: 1 });
    const r1 = await strategy.aggregate(inputOf([1, 1], [['a', [2, -4], 1]]).input);
    // D = [2,-4]; m = 0.5 D = [1,-2]; v0 = tau^2 = 1; D^2 = [4,16], v0 < D^2 so v = 1 + 0.25 D^2 = [2, 5]
    // w = [1 + 1/(sqrt 2 + 1), 1 - 2/(sqrt 5 + 1)]
    assertClose(r1.weights, [1 + 1 / (Math.SQRT2 + 1), 1 - 2 / (Math.sqrt(5) + 1)]);
    assertClose(r1.serverState.tensors.v as Float32Array, [2, 5]);
    assert.equal(r1.serverState.scalars.t, 1);
    const r2 = await strategy.aggregate(inputOf([...r1.weights], [['b', [1, 0], 1]], r1.serverState).input);
    // D^2 = [1, 0] < v = [2, 5], so v shrinks: v = v - 0.25 D^2 = [1.75, 5] (Adam would give 0.75 v + 0.25 D^2 = [1.75, 3.75])
    assertClose(r2.serverState.tensors.v as Float32Array, [1.75, 5]);
    assertClose(r2.serverState.tensors.m as Float32Array, [1, -1]);
  });

  test('the schema fills the documented defaults', () => {
    assert.deepEqual(StrategyConfig.parse({ name: 'fedavgm' }), { name: 'fedavgm', serverLr: 1, momentum: 0.5 });
    assert.deepEqual(StrategyConfig.parse({ name: 'fedyogi' }), { name: 'fedyogi', serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    assert.throws(() => StrategyConfig.parse({ name: 'fedavgm', momentum: 1 }));
  });
});

describe('robust strategies', () => {
  test('median: base + coordinate-wise median; copes with a reused producer buffer', async () => {
    const input = reusedBufferInput([10, 10], [
      ['a', [1, -3], 1],
      ['b', [100, 0], 1],
      ['c', [2, 1], 1],
    ]);
    const r = await createStrategy({ name: 'median' }).aggregate(input);
    // coord 0: [1, 2, 100] -> 2; coord 1: [-3, 0, 1] -> 0; + base [10, 10] = [12, 10]
    assert.deepEqual([...r.weights], [12, 10]);
    assert.deepEqual(r.used, ['a', 'b', 'c']);
  });

  test('median with an even count', async () => {
    const { input } = inputOf([0], [
      ['a', [1], 1],
      ['b', [10], 1],
      ['c', [2], 1],
      ['d', [4], 1],
    ]);
    // sorted [1, 2, 4, 10] -> (2 + 4) / 2 = 3
    assert.deepEqual([...(await createStrategy({ name: 'median' }).aggregate(input)).weights], [3]);
  });

  test('trimmed mean: base + trimmed mean', async () => {
    const { input } = inputOf([1, -1], [
      ['a', [1, 5], 1],
      ['b', [100, 6], 1],
      ['c', [3, -50], 1],
      ['d', [2, 7], 1],
      ['e', [4, 8], 1],
    ]);
    const r = await createStrategy({ name: 'trimmed-mean', trimFraction: 0.2 }).aggregate(input);
    // drop 1 each end: coord 0 mean(2,3,4) = 3, coord 1 mean(5,6,7) = 6; + base [1, -1] = [4, 5]
    assert.deepEqual([...r.weights], [4, 5]);
  });

  const krumRows: Row[] = [
    ['a', [0, 0], 1],
    ['b', [1, 0], 2],
    ['c', [0, 2], 1],
    ['d', [1, 1], 1],
    ['e', [10, 10], 1000], // the outlier also claims a huge sample count
  ];

  test('multi-Krum keeps the honest cluster and excludes the outlier', async () => {
    const { input } = inputOf([10, 20], krumRows);
    const r = await createStrategy({ name: 'krum', byzantine: 1, select: 3 }).aggregate(input);
    // Scores [3, 2, 6, 3, 326] (see krumScores test) -> select b, a, d; averaged in input order a, b, d:
    //   (1*[0,0] + 2*[1,0] + 1*[1,1]) / 4 = [3, 1] / 4 = [0.75, 0.25]; + base = [10.75, 20.25]
    assert.deepEqual([...r.weights], [10.75, 20.25]);
    assert.deepEqual(r.used, ['a', 'b', 'd']);
  });

  test('plain Krum (select 1) takes the single best update', async () => {
    const { input } = inputOf([10, 20], krumRows);
    const r = await createStrategy({ name: 'krum', byzantine: 1, select: 1 }).aggregate(input);
    // b = [1, 0] has the lowest score, 2; + base = [11, 20]
    assert.deepEqual([...r.weights], [11, 20]);
    assert.deepEqual(r.used, ['b']);
  });
});

describe('errors', () => {
  const all: StrategyConfig[] = [
    { name: 'fedavg' },
    ADAM,
    { name: 'fedavgm', serverLr: 1, momentum: 0.9 },
    { name: 'fedyogi', serverLr: 1, beta1: 0.5, beta2: 0.75, tau: 1 },
    { name: 'median' },
    { name: 'trimmed-mean', trimFraction: 0.1 },
    { name: 'krum', byzantine: 0, select: 1 },
  ];

  test('no updates -> NO_UPDATES (every strategy)', async () => {
    for (const c of all) await assertStrategyError(createStrategy(c).aggregate(inputOf([0, 0], []).input), 'NO_UPDATES');
  });

  test('zero total samples -> NO_SAMPLES', async () => {
    const { input } = inputOf([0], [
      ['a', [1], 0],
      ['b', [2], 0],
    ]);
    await assertStrategyError(createStrategy({ name: 'fedavg' }).aggregate(input), 'NO_SAMPLES');
    await assertStrategyError(createStrategy(ADAM).aggregate(input), 'NO_SAMPLES');
  });

  test('negative or fractional sample counts -> BAD_SAMPLES', async () => {
    await assertStrategyError(createStrategy({ name: 'fedavg' }).aggregate(inputOf([0], [['a', [1], -1]]).input), 'BAD_SAMPLES');
    await assertStrategyError(createStrategy({ name: 'median' }).aggregate(inputOf([0], [['a', [1], 1.5]]).input), 'BAD_SAMPLES');
  });

  test('delta length differs from base -> SHAPE_MISMATCH (every strategy)', async () => {
    for (const c of all) {
      const { input } = inputOf([0, 0], [
        ['a', [1, 2], 1],
        ['b', [1, 2, 3], 1],
        ['c', [1, 2], 1],
      ]);
      await assertStrategyError(createStrategy(c).aggregate(input), 'SHAPE_MISMATCH');
    }
  });

  test('FedAdam moment of the wrong size -> SHAPE_MISMATCH', async () => {
    const state: ServerState = { scalars: { t: 1 }, tensors: { m: f32([0]), v: f32([0, 0]) } };
    await assertStrategyError(createStrategy(ADAM).aggregate(inputOf([0, 0], [['a', [1, 1], 1]], state).input), 'SHAPE_MISMATCH');
  });

  test('Krum needs n > 2f + 2 -> KRUM_TOO_FEW', async () => {
    const rows: Row[] = [
      ['a', [0], 1],
      ['b', [1], 1],
      ['c', [2], 1],
      ['d', [3], 1],
    ];
    // f = 1 needs n > 4; n = 4.
    await assertStrategyError(createStrategy({ name: 'krum', byzantine: 1, select: 1 }).aggregate(inputOf([0], rows).input), 'KRUM_TOO_FEW');
    assert.throws(() => multiKrumSelect([f32([0]), f32([1]), f32([2])], 1, 1), (e: unknown) => e instanceof StrategyError && e.code === 'KRUM_TOO_FEW');
    // Selecting more updates than arrived is also too few.
    await assertStrategyError(createStrategy({ name: 'krum', byzantine: 0, select: 5 }).aggregate(inputOf([0], rows).input), 'KRUM_TOO_FEW');
  });

  test('count disagreeing with the stream -> COUNT_MISMATCH', async () => {
    const { input } = inputOf([0], [['a', [1], 1]]);
    await assertStrategyError(createStrategy({ name: 'fedavg' }).aggregate({ ...input, count: 2 }), 'COUNT_MISMATCH');
  });

  test('out-of-range parameters -> BAD_CONFIG', async () => {
    await assertStrategyError(() => createStrategy({ name: 'trimmed-mean', trimFraction: 0.5 }), 'BAD_CONFIG');
    await assertStrategyError(() => createStrategy({ name: 'krum', byzantine: -1, select: 1 }), 'BAD_CONFIG');
    await assertStrategyError(() => createStrategy({ ...ADAM, beta1: 1 } as StrategyConfig), 'BAD_CONFIG');
  });
});

describe('determinism', () => {
  /** Deterministic pseudo-random inputs (an LCG; nothing to do with Math.random). */
  function fixture(): { base: number[]; rows: Row[]; state: ServerState } {
    let s = 12345;
    const next = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32 - 0.5;
    };
    const P = 257;
    const base = Array.from({ length: P }, next);
    const rows: Row[] = Array.from({ length: 9 }, (_, j): Row => [
      `c${j}`,
      Array.from({ length: P }, () => next() * (j === 8 ? 50 : 1)),
      1 + (j * 37) % 101,
    ]);
    const state: ServerState = {
      scalars: { t: 3 },
      tensors: { m: f32(Array.from({ length: P }, next)), v: f32(Array.from({ length: P }, () => Math.abs(next()))) },
    };
    return { base, rows, state };
  }

  const configs: StrategyConfig[] = [
    { name: 'fedavg' },
    { name: 'fedadam', serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
    { name: 'fedavgm', serverLr: 1, momentum: 0.9 },
    { name: 'fedyogi', serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
    { name: 'median' },
    { name: 'trimmed-mean', trimFraction: 0.2 },
    { name: 'krum', byzantine: 2, select: 4 },
  ];

  for (const config of configs) {
    test(`${config.name}: same input twice -> identical bytes, inputs unmodified`, async () => {
      const { base, rows, state } = fixture();
      const a = inputOf(base, rows, state);
      const snapshot = {
        base: bytes(a.input.base).toString('hex'),
        deltas: a.deltas.map((d) => bytes(d.delta).toString('hex')),
        m: bytes(state.tensors.m!).toString('hex'),
        v: bytes(state.tensors.v!).toString('hex'),
      };
      const r1 = await createStrategy(config).aggregate(a.input);
      const r2 = await createStrategy(config).aggregate(inputOf(base, rows, fixture().state).input);
      assert.ok(bytes(r1.weights).equals(bytes(r2.weights)), 'weights bytes differ');
      assert.deepEqual(r1.used, r2.used);
      assert.deepEqual(r1.serverState.scalars, r2.serverState.scalars);
      assert.deepEqual(Object.keys(r1.serverState.tensors).sort(), Object.keys(r2.serverState.tensors).sort());
      for (const k of Object.keys(r1.serverState.tensors)) {
        assert.ok(bytes(r1.serverState.tensors[k]!).equals(bytes(r2.serverState.tensors[k]!)), `state tensor ${k} differs`);
      }
      // Nothing the strategy was handed has changed.
      assert.equal(bytes(a.input.base).toString('hex'), snapshot.base);
      assert.deepEqual(a.deltas.map((d) => bytes(d.delta).toString('hex')), snapshot.deltas);
      assert.equal(bytes(state.tensors.m!).toString('hex'), snapshot.m);
      assert.equal(bytes(state.tensors.v!).toString('hex'), snapshot.v);
      assert.equal(state.scalars.t, 3);
      if (config.name === 'krum') assert.ok(!r1.used.includes('c8'), 'the scaled-up outlier is not selected');
    });
  }
});
