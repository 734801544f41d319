import {
  backend_util,
  getKernel,
  registerKernel,
  type Conv2DBackpropFilterAttrs,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { runWasmKernel, type WasmBackend } from './wasm-kernel-call.ts';

/**
 * The wasm backend of tfjs 4.22 has no Conv2DBackpropFilter kernel, so training any conv layer
 * fails there. The filter gradient is itself a convolution, so we build it from kernels the wasm
 * backend does have (Transpose, Slice, Conv2D on XNNPACK):
 *
 *   dW[kh, kw, ci, co] = sum_{n, oh, ow} x[n, oh*s + kh - padTop, ow*s + kw - padLeft, ci] * dy[n, oh, ow, co]
 *
 * Read ci as the batch, (kh, kw) as output pixels, n as the input channels and dy as the filter:
 *   input  X = x  transposed to [Cin, H, W, N]
 *   filter F = dy transposed to [OH, OW, N, Cout]
 * and dW (as [Cin, KH, KW, Cout]) is conv2d(X, F) with stride 1, dilation = the forward stride,
 * explicit padding (padTop, padLeft) in front and whatever makes the output exactly KH x KW at the
 * back (cropping X when that amount is negative, i.e. trailing rows the forward pass never read).
 */
const KERNEL_NAME = 'Conv2DBackpropFilter';
const BACKEND = 'wasm';

type Backend = WasmBackend;

const run = (name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: object) => runWasmKernel(name, backend, inputs, attrs, KERNEL_NAME);

const conv2dBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as Backend;
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const channelsLast = info.dataFormat === 'channelsLast';
  // Everything below works on X = [Cin, H, W, N] and F = [OH, OW, N, Cout].
  const xPerm = channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0];
  const dyPerm = channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1];

  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo) => (temps.push(t), t);
  try {
    let xt = keep(run('Transpose', be, { x }, { perm: xPerm }));
    const ft = keep(run('Transpose', be, { x: dy }, { perm: dyPerm }));
    const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
    const sh = info.strideHeight;
    const sw = info.strideWidth;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    // Input extent the output needs: the last tap reads row (kh-1) + (oh-1)*sh - top.
    let bottom = kh - 1 + (oh - 1) * sh + 1 - top - h;
    let right = kw - 1 + (ow - 1) * sw + 1 - left - w;
    if (bottom < 0 || right < 0) {
      const keepH = h + Math.min(bottom, 0);
      const keepW = w + Math.min(right, 0);
      xt = keep(run('Slice', be, { x: xt }, { begin: [0, 0, 0, 0], size: [info.inChannels, keepH, keepW, info.batchSize] }));
      bottom = Math.max(bottom, 0);
      right = Math.max(right, 0);
    }
    const dwT = keep(
      run('Conv2D', be, { x: xt, filter: ft }, {
        strides: [1, 1],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: 'NHWC',
        dilations: [sh, sw],
        dimRoundingMode: undefined,
      }),
    );
    // [Cin, KH, KW, Cout] -> [KH, KW, Cin, Cout]
    const dw = run('Transpose', be, { x: dwT }, { perm: [1, 2, 0, 3] });
    return dw;
  } finally {
    for (const t of temps) be.disposeData(t.dataId);
  }
};

/** Registers the filter-gradient kernel for the wasm backend (no-op when one is already there). */
export function registerWasmConv2dBackpropFilter(): boolean {
  if (getKernel(KERNEL_NAME, BACKEND)) return false;
  registerKernel({ kernelName: KERNEL_NAME, backendName: BACKEND, kernelFunc: conv2dBackpropFilterWasm });
  return true;
}

