import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PRESET_MODELS, initialWeights, weightManifest, type ModelSpec } from '../../protocol/model-spec.ts';
import { firstNonFinite, l2Norm } from '../../protocol/codec.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { evaluate, trainLocal, type TrainProgress } from '../../client/tf/trainer.ts';
import { subset } from '../../client/data/dataset.ts';
import { loadIris } from '../../client/data/iris.ts';
import { loadMnist, splitTrainTest } from '../../client/data/mnist.ts';

delete process.env['FL_TF_BACKEND'];
const { tf } = await initBackend('wasm');

const irisSpec = PRESET_MODELS['iris-mlp'] as ModelSpec;
const iris = loadIris();

describe('trainLocal on iris', () => {
  test('a few epochs lower the loss and lift accuracy well above chance', async () => {
    const base = initialWeights(irisSpec, 1);
    const before = await evaluate({ spec: irisSpec, weights: base, data: iris });
    const progress: TrainProgress[] = [];
    const r = await trainLocal({
      spec: irisSpec,
      baseWeights: base,
      data: iris,
      training: { localEpochs: 20, batchSize: 16, learningRate: 0.02, optimizer: 'adam' },
      seed: 3,
      onProgress: (p) => progress.push(p),
    });
    const after = await evaluate({ spec: irisSpec, weights: r.weights, data: iris });
    assert.equal(r.numSamples, 150);
    assert.equal(r.epochLosses.length, 20);
    assert.ok(r.epochLosses[19]! < r.epochLosses[0]! * 0.5, `epoch losses ${r.epochLosses.map((l) => l.toFixed(3))}`);
    assert.ok(after.loss < before.loss * 0.5, `loss ${before.loss} -> ${after.loss}`);
    assert.ok(after.accuracy >= 0.9, `accuracy ${before.accuracy} -> ${after.accuracy}`);
    // delta is local - base, rounded to float32.
    for (let i = 0; i < base.length; i++) assert.equal(r.delta[i], Math.fround(r.weights[i]! - base[i]!));
    // 10 batches per epoch (150 / 16, rounded up), reported in order.
    assert.equal(progress.length, 200);
    assert.deepEqual(progress[0], { ...progress[0]!, epoch: 1, epochs: 20, batch: 1, batches: 10 });
    assert.deepEqual(progress[199], { ...progress[199]!, epoch: 20, batch: 10 });
  });

  test('same seed gives the same delta; another seed does not', async () => {
    const args = {
      spec: irisSpec,
      baseWeights: initialWeights(irisSpec, 2),
      data: iris,
      training: { localEpochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' as const },
    };
    const a = await trainLocal({ ...args, seed: 10 });
    const b = await trainLocal({ ...args, seed: 10 });
    const c = await trainLocal({ ...args, seed: 11 });
    assert.deepEqual(a.delta, b.delta);
    assert.notDeepEqual(a.delta, c.delta);
  });

  test('leaves no tensors behind', async () => {
    const base = initialWeights(irisSpec, 1);
    const training = { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam' as const };
    await trainLocal({ spec: irisSpec, baseWeights: base, data: iris, training, seed: 1 });
    const tensors = tf.memory().numTensors;
    await trainLocal({ spec: irisSpec, baseWeights: base, data: iris, training, seed: 1 });
    await evaluate({ spec: irisSpec, weights: base, data: iris, batchSize: 64 });
    assert.equal(tf.memory().numTensors, tensors);
  });

  test('rejects bad input and honours an abort signal', async () => {
    const base = initialWeights(irisSpec, 1);
    const training = { localEpochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'sgd' as const };
    await assert.rejects(trainLocal({ spec: irisSpec, baseWeights: base.subarray(1), data: iris, training, seed: 1 }), /baseWeights/);
    const badLabels = { ...iris, y: Uint8Array.from(iris.y, () => 3) };
    await assert.rejects(trainLocal({ spec: irisSpec, baseWeights: base, data: badLabels, training, seed: 1 }), /outside \[0, 3\)/);
    const ctl = new AbortController();
    ctl.abort(new Error('stop now'));
    await assert.rejects(trainLocal({ spec: irisSpec, baseWeights: base, data: iris, training, seed: 1, signal: ctl.signal }), /stop now/);
  });
});

describe('trainLocal on MNIST with the CNN', () => {
  test('one epoch on 256 digits runs on wasm (conv gradients) and moves every tensor', async () => {
    assert.equal(tf.getBackend(), 'wasm');
    const spec = PRESET_MODELS['mnist-cnn'] as ModelSpec;
    const manifest = weightManifest(spec);
    const { train } = splitTrainTest(loadMnist(), 8000, 1);
    const data = subset(train, Array.from({ length: 256 }, (_, i) => i));
    const base = initialWeights(spec, 1);
    const r = await trainLocal({
      spec,
      baseWeights: base,
      data,
      training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
      seed: 1,
    });
    assert.equal(r.delta.length, manifest.size);
    assert.equal(firstNonFinite(r.weights), -1);
    assert.ok(Number.isFinite(r.loss) && r.loss > 0);
    for (const t of manifest.tensors) {
      const norm = l2Norm(r.delta.subarray(t.offset, t.offset + t.size));
      assert.ok(norm > 0, `${t.name} did not change`);
    }
  });
});
