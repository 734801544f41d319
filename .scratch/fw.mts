import { loadMnist, splitTrainTest } from '../client/data/mnist.ts';
import { subset } from '../client/data/dataset.ts';
import { evaluate, trainLocal } from '../client/tf/trainer.ts';
import { PRESET_MODELS, initialWeights } from '../protocol/model-spec.ts';
import { deterministicEvaluate } from '../protocol/scoring/forward.ts';
const spec = PRESET_MODELS['mnist-cnn'] as any;
const { train, test } = splitTrainTest(loadMnist());
const val = subset(test, Array.from({ length: 300 }, (_, i) => i));
let w = initialWeights(spec, 1);
for (let r = 0; r < 2; r++) {
  const t0 = performance.now();
  const d = deterministicEvaluate(spec, w, val);
  const t1 = performance.now();
  const tf = await evaluate({ spec, weights: w, data: val });
  console.log('det', d.loss, d.correct / val.n, (t1 - t0).toFixed(0), 'ms; tf', tf.loss, tf.accuracy);
  const res = await trainLocal({ spec, baseWeights: w, data: subset(train, Array.from({ length: 500 }, (_, i) => i)), training: { localEpochs: 1, batchSize: 32, learningRate: 0.05, optimizer: 'sgd' }, seed: 1 });
  w = Float32Array.from(w, (v, i) => Math.fround(v + res.delta[i]!));
}
