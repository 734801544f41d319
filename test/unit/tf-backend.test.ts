import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { backend_util, type Tensor } from '@tensorflow/tfjs-core';
import { PRESET_MODELS, initialWeights, weightManifest, type ModelSpec } from '../../protocol/model-spec.ts';
import { Prng } from '../../protocol/prng.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { buildModel, getFlatWeights, setFlatWeights } from '../../client/tf/model-builder.ts';

// The test must exercise wasm whatever the developer's shell says.
delete process.env['FL_TF_BACKEND'];
const { tf, name } = await initBackend('wasm');

function randomData(rng: Prng, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

interface Case {
  x: [number, number, number, number]; // NHWC
  filter: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
  dataFormat?: 'NHWC' | 'NCHW';
}
const CASES: Case[] = [
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'valid' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
  { x: [3, 9, 7, 2], filter: [3, 2, 2, 5], strides: [2, 2], pad: 'valid' },
  { x: [3, 9, 7, 2], filter: [3, 2, 2, 5], strides: [2, 2], pad: 'same' },
  { x: [1, 10, 11, 1], filter: [4, 4, 1, 3], strides: [3, 2], pad: 'same' },
  { x: [2, 10, 11, 4], filter: [4, 3, 4, 2], strides: [3, 2], pad: 'valid' },
  { x: [4, 28, 28, 1], filter: [5, 5, 1, 8], strides: [1, 1], pad: 'valid' },
  { x: [2, 12, 12, 8], filter: [5, 5, 8, 16], strides: [1, 1], pad: 'same' },
  { x: [2, 6, 6, 3], filter: [1, 1, 3, 2], strides: [2, 2], pad: 'valid' },
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 2], strides: [2, 3], pad: 'same', dataFormat: 'NCHW' },
];

/** Runs the Conv2DBackpropFilter kernel on the named backend. */
async function filterGrad(backend: string, c: Case, xData: Float32Array, dyData: Float32Array): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  const nchw = c.dataFormat === 'NCHW';
  const [n, h, w, ci] = c.x;
  const info = backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  const xShape = nchw ? [n, ci, h, w] : [n, h, w, ci];
  const dyShape = nchw ? [n, info.outChannels, info.outHeight, info.outWidth] : [n, info.outHeight, info.outWidth, info.outChannels];
  const x = tf.tensor(xData, xShape);
  const dy = tf.tensor(dyData, dyShape);
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: c.dataFormat ?? 'NHWC',
    filterShape: c.filter,
  }) as Tensor;
  const out = { shape: dw.shape, values: (await dw.data()) as Float32Array };
  tf.dispose([x, dy, dw]);
  return out;
}

describe('tfjs backend', () => {
  test('initBackend chooses wasm and is idempotent', async () => {
    assert.equal(name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    const again = await initBackend('cpu');
    assert.equal(again.name, 'wasm');
  });

  test('wasm Conv2DBackpropFilter matches the cpu kernel', async () => {
    const rng = new Prng(7);
    try {
      for (const c of CASES) {
        const info = backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
        const xData = randomData(rng, c.x.reduce((a, b) => a * b, 1));
        const dyData = randomData(rng, info.outShape.reduce((a, b) => a * b, 1));
        const want = await filterGrad('cpu', c, xData, dyData);
        const got = await filterGrad('wasm', c, xData, dyData);
        const label = JSON.stringify(c);
        assert.deepEqual(got.shape, c.filter, label);
        assert.deepEqual(want.shape, c.filter, label);
        let maxDiff = 0;
        for (let i = 0; i < want.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want.values[i]! - got.values[i]!));
        assert.ok(maxDiff < 1e-4, `${label}: max abs diff ${maxDiff}`);
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });

  test('the filter kernel leaks no backend memory', async () => {
    const c = CASES[3]!;
    const info = backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
    const rng = new Prng(3);
    const xData = randomData(rng, c.x.reduce((a, b) => a * b, 1));
    const dyData = randomData(rng, info.outShape.reduce((a, b) => a * b, 1));
    await filterGrad('wasm', c, xData, dyData);
    const tensors = tf.memory().numTensors;
    const dataIds = tf.engine().backend.numDataIds();
    await filterGrad('wasm', c, xData, dyData);
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(tf.engine().backend.numDataIds(), dataIds);
  });

  test('wasm Conv2DBackpropInput (stride-1 fast path and strided fallback) matches the cpu kernel', async () => {
    const rng = new Prng(11);
    try {
      for (const c of CASES) {
        const info = backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
        const wData = randomData(rng, c.filter.reduce((a, b) => a * b, 1));
        const dyData = randomData(rng, info.outShape.reduce((a, b) => a * b, 1));
        const results = [];
        for (const backend of ['cpu', 'wasm']) {
          await tf.setBackend(backend);
          const nchw = c.dataFormat === 'NCHW';
          const [n, h, w, ci] = c.x;
          const dyShape = nchw ? [n, info.outChannels, info.outHeight, info.outWidth] : [n, info.outHeight, info.outWidth, info.outChannels];
          const filter = tf.tensor(wData, c.filter);
          const dy = tf.tensor(dyData, dyShape);
          const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
            strides: c.strides,
            pad: c.pad,
            dataFormat: c.dataFormat ?? 'NHWC',
            inputShape: nchw ? [n, ci, h, w] : c.x,
          }) as Tensor;
          results.push({ shape: dx.shape, values: (await dx.data()) as Float32Array });
          tf.dispose([filter, dy, dx]);
        }
        const [want, got] = results as [(typeof results)[0], (typeof results)[0]];
        const label = JSON.stringify(c);
        assert.deepEqual(got.shape, want.shape, label);
        let maxDiff = 0;
        for (let i = 0; i < want.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want.values[i]! - got.values[i]!));
        assert.ok(maxDiff < 1e-4, `${label}: max abs diff ${maxDiff}`);
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });

  test("the wasm glue's rethrowing process handlers are removed", () => {
    const glue = (l: unknown) => /ExitStatus|^function\(reason\)\{throw reason\}$/.test(String(l));
    assert.ok(!process.listeners('uncaughtException').some(glue), 'uncaughtException handler from the Emscripten glue is still installed');
    assert.ok(!process.listeners('unhandledRejection').some(glue), 'unhandledRejection handler from the Emscripten glue is still installed');
  });
});

describe('model builder', () => {
  for (const [presetName, preset] of Object.entries(PRESET_MODELS)) {
    test(`${presetName}: built weights match the manifest shapes in order`, () => {
      const spec = preset as ModelSpec;
      const model = buildModel(spec);
      try {
        const manifest = weightManifest(spec);
        assert.deepEqual(
          model.getWeights().map((w) => w.shape),
          manifest.tensors.map((t) => t.shape),
        );
        assert.equal(model.countParams(), manifest.size);
        const out = model.outputs[0]!.shape;
        assert.deepEqual(out, [null, spec.classes]);
      } finally {
        model.dispose();
      }
    });
  }

  test('set then get flat weights round-trips exactly', () => {
    const spec = PRESET_MODELS['mnist-cnn'] as ModelSpec;
    const manifest = weightManifest(spec);
    const flat = initialWeights(spec, 42);
    // Non-zero biases too, so a bias/kernel mix-up would show.
    for (const t of manifest.tensors) if (t.name.endsWith('/bias')) for (let k = 0; k < t.size; k++) flat[t.offset + k] = 0.01 * (k + 1);
    const model = buildModel(spec);
    try {
      setFlatWeights(model, manifest, flat);
      const copy = flat.slice();
      flat.fill(0); // the model must not alias the caller's buffer
      assert.deepEqual(getFlatWeights(model, manifest), copy);
    } finally {
      model.dispose();
    }
  });

  test('a wrong-sized vector or a different model is rejected clearly', () => {
    const spec = PRESET_MODELS['iris-mlp'] as ModelSpec;
    const manifest = weightManifest(spec);
    const model = buildModel(spec);
    try {
      assert.throws(() => setFlatWeights(model, manifest, new Float32Array(manifest.size - 1)), /manifest needs/);
      const other = weightManifest(PRESET_MODELS['mnist-mlp'] as ModelSpec);
      assert.throws(() => getFlatWeights(model, other), /differs from manifest shape/);
    } finally {
      model.dispose();
    }
  });

  test('strided same-padded conv specs build to the manifest too', () => {
    const spec: ModelSpec = {
      inputShape: [13, 11, 2],
      classes: 4,
      layers: [
        { type: 'conv2d', filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
        { type: 'conv2d', filters: 5, kernelSize: 2, strides: 3, padding: 'valid', activation: 'tanh' },
        { type: 'flatten' },
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 4, activation: 'softmax' },
      ],
    };
    const model = buildModel(spec);
    try {
      assert.deepEqual(model.getWeights().map((w) => w.shape), weightManifest(spec).tensors.map((t) => t.shape));
    } finally {
      model.dispose();
    }
  });
});
