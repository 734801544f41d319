import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerSpec, ModelSpec, WeightManifest } from '../../protocol/model-spec.ts';

/**
 * Turns a protocol ModelSpec into a tfjs-layers model. The protocol's weight manifest is the
 * contract: tensors are matched by position and shape, never by tfjs's auto-generated names
 * (which carry a process-wide counter and differ between runs).
 */
function toLayer(layer: LayerSpec, inputShape: number[] | undefined): tfl.layers.Layer {
  const first = inputShape ? { inputShape } : {};
  switch (layer.type) {
    case 'dense':
      return tfl.layers.dense({ ...first, units: layer.units, activation: layer.activation });
    case 'conv2d':
      return tfl.layers.conv2d({
        ...first,
        filters: layer.filters,
        kernelSize: layer.kernelSize,
        strides: layer.strides,
        padding: layer.padding,
        activation: layer.activation,
        dataFormat: 'channelsLast',
      });
    case 'maxPooling2d':
      return tfl.layers.maxPooling2d({ ...first, poolSize: layer.poolSize, strides: layer.poolSize, padding: 'valid' });
    case 'flatten':
      return tfl.layers.flatten(first);
    case 'dropout':
      return tfl.layers.dropout({ ...first, rate: layer.rate });
  }
}

/** Builds an uncompiled Sequential model whose weights line up with weightManifest(spec). */
export function buildModel(spec: ModelSpec): tfl.LayersModel {
  const model = tfl.sequential();
  spec.layers.forEach((layer, i) => model.add(toLayer(layer, i === 0 ? [...spec.inputShape] : undefined)));
  return model;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Throws unless the model's weights have exactly the manifest's shapes, in order. */
export function checkModelAgainstManifest(model: tfl.LayersModel, manifest: WeightManifest): void {
  const weights = model.weights;
  if (weights.length !== manifest.tensors.length) {
    throw new Error(`model has ${weights.length} weight tensors, the manifest lists ${manifest.tensors.length}`);
  }
  weights.forEach((w, i) => {
    const t = manifest.tensors[i]!;
    if (!sameShape(w.shape as number[], t.shape)) {
      throw new Error(`weight ${i} (${t.name}): model shape [${w.shape.join(', ')}] differs from manifest shape [${t.shape.join(', ')}]`);
    }
  });
}

/** Reads the model's weights into one flat float32 vector in manifest order. */
export function getFlatWeights(model: tfl.LayersModel, manifest: WeightManifest): Float32Array {
  checkModelAgainstManifest(model, manifest);
  const out = new Float32Array(manifest.size);
  model.weights.forEach((w, i) => {
    const t = manifest.tensors[i]!;
    // LayerVariable.read() returns the live variable, which must not be disposed.
    out.set(w.read().dataSync() as Float32Array, t.offset);
  });
  return out;
}

/** Loads a flat float32 vector (manifest order) into the model's weights. */
export function setFlatWeights(model: tfl.LayersModel, manifest: WeightManifest, flat: Float32Array): void {
  checkModelAgainstManifest(model, manifest);
  if (flat.length !== manifest.size) {
    throw new Error(`flat weight vector has ${flat.length} values, the manifest needs ${manifest.size}`);
  }
  // slice, not subarray: the cpu backend keeps the array it is given, and variable.assign shares
  // that storage, so a view would tie the model to the caller's buffer.
  const tensors = manifest.tensors.map((t) => tf.tensor(flat.slice(t.offset, t.offset + t.size), t.shape, 'float32'));
  try {
    // setWeights copies into the existing variables, so the temporaries can go.
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}
