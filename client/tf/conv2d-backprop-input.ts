import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { runWasmKernel, type WasmBackend } from './wasm-kernel-call.ts';

/**
 * A faster input gradient for the wasm backend. Its own Conv2DBackpropInput is a plain loop and
 * took ~1/3 of a training step of the MNIST CNN; for stride 1 (what the presets use) the input
 * gradient is an ordinary convolution, which XNNPACK runs several times faster:
 *
 *   dx[n, h, w, ci] = sum_{kh, kw, co} dy[n, h + padTop - kh, w + padLeft - kw, co] * W[kh, kw, ci, co]
 *                   = conv2d(dy, W flipped in kh and kw, transposed to [KH, KW, Cout, Cin])
 *                     with padding KH-1-padTop in front and whatever makes the output H x W behind.
 *
 * Strided or NCHW cases (and any padding that would come out negative) go to the original kernel.
 */
const KERNEL_NAME = 'Conv2DBackpropInput';
const BACKEND = 'wasm';

type Backend = WasmBackend;

const run = (name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: object) => runWasmKernel(name, backend, inputs, attrs, KERNEL_NAME);

function makeKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const be = backend as Backend;
    const dy = inputs['dy'] as TensorInfo;
    const filter = inputs['filter'] as TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
    const format = backend_util.convertConv2DDataFormat(dataFormat);
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      format,
    );
    const top = info.filterHeight - 1 - info.padInfo.top;
    const left = info.filterWidth - 1 - info.padInfo.left;
    const bottom = info.inHeight - info.outHeight + info.filterHeight - 1 - top;
    const right = info.inWidth - info.outWidth + info.filterWidth - 1 - left;
    const fast =
      info.dataFormat === 'channelsLast' && info.strideHeight === 1 && info.strideWidth === 1 && Math.min(top, left, bottom, right) >= 0;
    if (!fast) return original(args);

    const temps: TensorInfo[] = [];
    try {
      const flipped = run('Reverse', be, { x: filter }, { dims: [0, 1] });
      temps.push(flipped);
      const swapped = run('Transpose', be, { x: flipped }, { perm: [0, 1, 3, 2] });
      temps.push(swapped);
      return run('Conv2D', be, { x: dy, filter: swapped }, {
        strides: [1, 1],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
      });
    } finally {
      for (const t of temps) be.disposeData(t.dataId);
    }
  };
}

let installed = false;

/** Puts the stride-1 fast path in front of the wasm backend's own input-gradient kernel. */
export function registerWasmConv2dBackpropInput(): boolean {
  if (installed) return false;
  const original: KernelConfig | undefined = getKernel(KERNEL_NAME, BACKEND);
  if (!original) throw new Error(`wasm backend has no ${KERNEL_NAME} kernel to wrap`);
  unregisterKernel(KERNEL_NAME, BACKEND);
  // Keep the original setupFunc: it binds the wasm function the fallback path calls.
  const config: KernelConfig = { kernelName: KERNEL_NAME, backendName: BACKEND, kernelFunc: makeKernel(original.kernelFunc) };
  if (original.setupFunc) config.setupFunc = original.setupFunc;
  registerKernel(config);
  installed = true;
  return true;
}
