import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { weightManifest, type ModelSpec } from '../../protocol/model-spec.ts';
import { Prng } from '../../protocol/prng.ts';
import { buildModel, getFlatWeights, setFlatWeights } from './model-builder.ts';

/**
 * The training loop, free of any platform: it runs on whichever tfjs backend is active, so Node
 * (client/tf/trainer.ts picks the backend) and the browser page (client/web/browser-backend.ts) share
 * it, and a browser update is trained exactly as a CLI one.
 *
 * Local training for one data owner: start from the round's global weights, run a few epochs of
 * mini-batch SGD/Adam on private data, hand back the new weights and the delta to upload.
 * We drive the optimizer ourselves instead of model.fit: batch order then comes from a seeded
 * Prng (fit's shuffle uses Math.random), and every batch can report progress and yield to the
 * event loop so heartbeats keep flowing during long rounds.
 */
export interface LabelledData {
  /** n samples, each prod(spec.inputShape) float32 values, row-major. */
  x: Float32Array;
  /** Class index per sample. */
  y: Int32Array | Uint8Array;
  n: number;
}
export interface TrainingConfig {
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: 'sgd' | 'adam';
}
export interface TrainProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** 1-based index of the batch just finished. */
  batch: number;
  batches: number;
  /** Mean loss over this epoch's batches so far. */
  loss: number;
}
export interface TrainLocalArgs {
  spec: ModelSpec;
  baseWeights: Float32Array;
  data: LabelledData;
  training: TrainingConfig;
  /** Seeds the per-epoch shuffles, so a run is reproducible (dropout masks aside). */
  seed: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
}
export interface TrainResult {
  weights: Float32Array;
  /** weights - baseWeights. */
  delta: Float32Array;
  numSamples: number;
  /** Mean training loss over the last epoch. */
  loss: number;
  epochLosses: number[];
}

const EPS = 1e-7;

function validateData(spec: ModelSpec, data: LabelledData): number {
  const f = spec.inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(data.n) || data.n < 1) throw new RangeError(`data.n must be a positive integer, got ${data.n}`);
  if (data.x.length < data.n * f) throw new RangeError(`data.x has ${data.x.length} values; ${data.n} samples of [${spec.inputShape}] need ${data.n * f}`);
  if (data.y.length < data.n) throw new RangeError(`data.y has ${data.y.length} labels for ${data.n} samples`);
  for (let i = 0; i < data.n; i++) {
    const c = data.y[i]!;
    if (c < 0 || c >= spec.classes) throw new RangeError(`label ${c} at index ${i} is outside [0, ${spec.classes})`);
  }
  return f;
}

/** Cross-entropy against one-hot targets; softmax outputs as probabilities, anything else as logits. */
function crossEntropy(spec: ModelSpec, output: tf.Tensor, oneHot: tf.Tensor): tf.Scalar {
  const last = spec.layers[spec.layers.length - 1];
  if (last?.type === 'dense' && last.activation === 'softmax') {
    // Clipping keeps log finite when a probability saturates, as Keras does.
    const logp = tf.log(tf.clipByValue(output, EPS, 1 - EPS));
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), -1))) as tf.Scalar;
  }
  return tf.losses.softmaxCrossEntropy(oneHot, output) as tf.Scalar;
}

function makeOptimizer(cfg: TrainingConfig): tf.Optimizer {
  if (!(cfg.learningRate > 0) || !Number.isFinite(cfg.learningRate)) throw new RangeError(`learningRate must be positive, got ${cfg.learningRate}`);
  switch (cfg.optimizer) {
    case 'sgd':
      return tf.train.sgd(cfg.learningRate);
    case 'adam':
      return tf.train.adam(cfg.learningRate);
    default:
      throw new RangeError(`unknown optimizer '${String(cfg.optimizer)}'`);
  }
}

/**
 * Lets timers, heartbeats and (in a page) rendering run between batches. setImmediate is Node's; a
 * browser gets a MessageChannel hop, which unlike setTimeout(0) is not clamped to 4 ms.
 */
const yieldToEventLoop = (): Promise<void> =>
  typeof setImmediate === 'function'
    ? new Promise((resolve) => setImmediate(resolve))
    : new Promise((resolve) => {
        const ch = new MessageChannel();
        ch.port1.onmessage = () => {
          ch.port1.close();
          resolve();
        };
        ch.port2.postMessage(0);
      });

/** Trains a copy of the global model on local data on the active backend; returns new weights, delta and loss. */
export async function trainOnActiveBackend(args: TrainLocalArgs): Promise<TrainResult> {
  const { spec, baseWeights, data, training, seed, onProgress, signal } = args;
  const manifest = weightManifest(spec);
  if (baseWeights.length !== manifest.size) throw new RangeError(`baseWeights has ${baseWeights.length} values, the model needs ${manifest.size}`);
  const f = validateData(spec, data);
  const epochs = training.localEpochs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`localEpochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(training.batchSize) || training.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${training.batchSize}`);

  const n = data.n;
  const batchSize = Math.min(training.batchSize, n);
  const batches = Math.ceil(n / batchSize);
  const rng = new Prng(seed);

  let model: LayersModel | undefined;
  let optimizer: tf.Optimizer | undefined;
  const held: tf.Tensor[] = [];
  try {
    model = buildModel(spec);
    setFlatWeights(model, manifest, baseWeights);
    optimizer = makeOptimizer(training);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    // The whole local set lives on the backend once; batches are gathered from it by index.
    const xs = tf.tensor(data.x.subarray(0, n * f), [n, ...spec.inputShape], 'float32');
    held.push(xs);
    const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(data.y.subarray(0, n)), 'int32'), spec.classes), 'float32'));
    held.push(ys);

    const order = Array.from({ length: n }, (_, i) => i);
    const epochLosses: number[] = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const perm = Int32Array.from(rng.shuffle(order));
      let lossSum = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('training aborted');
        const idx = perm.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
        const m = model;
        const opt = optimizer;
        const batchLoss = tf.tidy(() => {
          const ind = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(xs, ind);
          const yb = tf.gather(ys, ind);
          const cost = opt.minimize(() => crossEntropy(spec, m.apply(xb, { training: true }) as tf.Tensor, yb), true, vars);
          return cost ? cost.dataSync()[0]! : NaN;
        });
        if (!Number.isFinite(batchLoss)) throw new Error(`training diverged: loss is ${batchLoss} at epoch ${epoch}, batch ${b + 1} (lower the learning rate)`);
        lossSum += batchLoss * idx.length;
        seen += idx.length;
        onProgress?.({ epoch, epochs, batch: b + 1, batches, loss: lossSum / seen });
        await yieldToEventLoop();
      }
      epochLosses.push(lossSum / seen);
    }

    const weights = getFlatWeights(model, manifest);
    const delta = new Float32Array(weights.length);
    for (let i = 0; i < weights.length; i++) delta[i] = weights[i]! - baseWeights[i]!;
    return { weights, delta, numSamples: n, loss: epochLosses[epochLosses.length - 1]!, epochLosses };
  } finally {
    tf.dispose(held);
    optimizer?.dispose();
    model?.dispose();
  }
}

export interface EvaluateArgs {
  spec: ModelSpec;
  weights: Float32Array;
  data: LabelledData;
  /** Samples per forward pass; bounds memory, not results (default 512). */
  batchSize?: number;
}

/** Accuracy and mean cross-entropy of the given weights on a labelled set, on the active backend. */
export async function evaluateOnActiveBackend(args: EvaluateArgs): Promise<{ accuracy: number; loss: number }> {
  const { spec, weights, data } = args;
  const manifest = weightManifest(spec);
  const f = validateData(spec, data);
  const batchSize = Math.max(1, Math.floor(args.batchSize ?? 512));
  const model = buildModel(spec);
  try {
    setFlatWeights(model, manifest, weights);
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < data.n; start += batchSize) {
      const end = Math.min(data.n, start + batchSize);
      const [l, c] = tf.tidy(() => {
        const xb = tf.tensor(data.x.subarray(start * f, end * f), [end - start, ...spec.inputShape], 'float32');
        const labels = tf.tensor1d(Int32Array.from(data.y.subarray(start, end)), 'int32');
        const out = model.apply(xb, { training: false }) as tf.Tensor;
        const loss = crossEntropy(spec, out, tf.cast(tf.oneHot(labels, spec.classes), 'float32'));
        const hits = tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), labels), 'int32'));
        return [loss.dataSync()[0]!, hits.dataSync()[0]!];
      });
      lossSum += l * (end - start);
      correct += c;
      await yieldToEventLoop();
    }
    return { accuracy: correct / data.n, loss: lossSum / data.n };
  } finally {
    model.dispose();
  }
}
