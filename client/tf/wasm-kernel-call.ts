import { getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

export type WasmBackend = Pick<KernelBackend, 'disposeData'>;

/** Runs a kernel already registered for the wasm backend; our replacement kernels are built from these. */
export function runWasmKernel(name: string, backend: WasmBackend, inputs: Record<string, TensorInfo>, attrs: object, neededBy: string): TensorInfo {
  const config = getKernel(name, 'wasm');
  if (!config) throw new Error(`wasm backend has no ${name} kernel, needed by ${neededBy}`);
  return config.kernelFunc({ inputs, backend: backend as never, attrs: attrs as NamedAttrMap }) as TensorInfo;
}
