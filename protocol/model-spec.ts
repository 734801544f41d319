import { z } from 'zod';
import { ProtocolError } from './errors.ts';
import { Prng } from './prng.ts';

/**
 * A model is described by data, not code: both the coordinator (which never runs TensorFlow) and
 * the clients (which build it with tfjs layers) derive the same weight manifest from this spec.
 */
const activation = z.enum(['linear', 'relu', 'tanh', 'sigmoid', 'softmax']);

export const DenseLayer = z.strictObject({ type: z.literal('dense'), units: z.number().int().min(1).max(65536), activation: activation.default('linear') });
export const Conv2dLayer = z.strictObject({
  type: z.literal('conv2d'),
  filters: z.number().int().min(1).max(4096),
  kernelSize: z.number().int().min(1).max(15),
  strides: z.number().int().min(1).max(8).default(1),
  padding: z.enum(['valid', 'same']).default('valid'),
  activation: activation.default('relu'),
});
export const MaxPool2dLayer = z.strictObject({ type: z.literal('maxPooling2d'), poolSize: z.number().int().min(1).max(8) });
export const FlattenLayer = z.strictObject({ type: z.literal('flatten') });
export const DropoutLayer = z.strictObject({ type: z.literal('dropout'), rate: z.number().min(0).max(0.95) });

export const LayerSpec = z.discriminatedUnion('type', [DenseLayer, Conv2dLayer, MaxPool2dLayer, FlattenLayer, DropoutLayer]);
export type LayerSpec = z.infer<typeof LayerSpec>;

export const ModelSpec = z
  .strictObject({
    inputShape: z.array(z.number().int().min(1).max(4096)).min(1).max(3),
    classes: z.number().int().min(2).max(10000),
    layers: z.array(LayerSpec).min(1).max(64),
  })
  .superRefine((spec, ctx) => {
    try {
      weightManifest(spec as ModelSpec);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e), path: ['layers'] });
    }
  });
export type ModelSpec = z.infer<typeof ModelSpec>;

export interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements within the flat parameter vector. */
  offset: number;
  size: number;
}
export interface WeightManifest {
  tensors: TensorEntry[];
  /** Total parameter count. */
  size: number;
}

/**
 * Infers the shape of every trainable tensor, in the order tfjs-layers reports them
 * (per layer: kernel, then bias). Throws on a spec whose shapes do not chain.
 */
export function weightManifest(spec: ModelSpec): WeightManifest {
  let shape = [...spec.inputShape];
  const tensors: TensorEntry[] = [];
  let offset = 0;
  const push = (name: string, s: number[]) => {
    const size = s.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape: s, offset, size });
    offset += size;
  };
  spec.layers.forEach((layer, i) => {
    switch (layer.type) {
      case 'dense': {
        if (shape.length !== 1) throw new ProtocolError('BAD_MODEL', `layer ${i}: dense needs a flat input, got [${shape}] (add a flatten layer)`);
        push(`layer${i}/kernel`, [shape[0] as number, layer.units]);
        push(`layer${i}/bias`, [layer.units]);
        shape = [layer.units];
        break;
      }
      case 'conv2d': {
        if (shape.length !== 3) throw new ProtocolError('BAD_MODEL', `layer ${i}: conv2d needs [h, w, c] input, got [${shape}]`);
        const [h, w, c] = shape as [number, number, number];
        const out = (n: number) =>
          layer.padding === 'same' ? Math.ceil(n / layer.strides) : Math.floor((n - layer.kernelSize) / layer.strides) + 1;
        if (out(h) < 1 || out(w) < 1) throw new ProtocolError('BAD_MODEL', `layer ${i}: kernel larger than input`);
        push(`layer${i}/kernel`, [layer.kernelSize, layer.kernelSize, c, layer.filters]);
        push(`layer${i}/bias`, [layer.filters]);
        shape = [out(h), out(w), layer.filters];
        break;
      }
      case 'maxPooling2d': {
        if (shape.length !== 3) throw new ProtocolError('BAD_MODEL', `layer ${i}: maxPooling2d needs [h, w, c] input`);
        const [h, w, c] = shape as [number, number, number];
        const oh = Math.floor((h - layer.poolSize) / layer.poolSize) + 1;
        const ow = Math.floor((w - layer.poolSize) / layer.poolSize) + 1;
        if (oh < 1 || ow < 1) throw new ProtocolError('BAD_MODEL', `layer ${i}: pool larger than input`);
        shape = [oh, ow, c];
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'dropout':
        break;
    }
  });
  const last = spec.layers[spec.layers.length - 1];
  if (!last || last.type !== 'dense' || last.units !== spec.classes) {
    throw new ProtocolError('BAD_MODEL', `the last layer must be dense with units = classes (${spec.classes})`);
  }
  if (offset > 50_000_000) throw new ProtocolError('BAD_MODEL', `model has ${offset} parameters; the limit is 50,000,000`);
  return { tensors, size: offset };
}

/**
 * Deterministic initial weights: Glorot-uniform kernels and zero biases from a seeded generator,
 * so the genesis checkpoint (and its hash) is reproducible by anyone from the task definition.
 */
export function initialWeights(spec: ModelSpec, seed: number): Float32Array {
  const manifest = weightManifest(spec);
  const out = new Float32Array(manifest.size);
  const rng = new Prng(seed);
  for (const t of manifest.tensors) {
    if (t.name.endsWith('/bias')) continue;
    const receptive = t.shape.length === 4 ? (t.shape[0] as number) * (t.shape[1] as number) : 1;
    const fanIn = (t.shape[t.shape.length - 2] as number) * receptive;
    const fanOut = (t.shape[t.shape.length - 1] as number) * receptive;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let k = 0; k < t.size; k++) out[t.offset + k] = (rng.next() * 2 - 1) * limit;
  }
  return out;
}

/** Ready-made specs for the demo and tests. */
export const PRESET_MODELS = {
  /** A small CNN for 28x28 grey digits (20,522 parameters). */
  'mnist-cnn': {
    inputShape: [28, 28, 1],
    classes: 10,
    layers: [
      { type: 'conv2d', filters: 8, kernelSize: 5, strides: 1, padding: 'valid', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 16, kernelSize: 5, strides: 1, padding: 'valid', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 64, activation: 'relu' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  },
  /** MLP 784-128-10. */
  'mnist-mlp': {
    inputShape: [784],
    classes: 10,
    layers: [
      { type: 'dense', units: 128, activation: 'relu' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  },
  /** A tiny MLP for the iris flowers, used by fast tests. */
  'iris-mlp': {
    inputShape: [4],
    classes: 3,
    layers: [
      { type: 'dense', units: 16, activation: 'relu' },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
  },
} as const satisfies Record<string, ModelSpec>;
