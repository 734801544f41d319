import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConv2dBackpropFilter } from '../tf/conv2d-backprop-filter.ts';
import { registerWasmConv2dBackpropInput } from '../tf/conv2d-backprop-input.ts';

/**
 * The page's TensorFlow.js engine: WebGL when the browser has a usable GPU context, else WebAssembly
 * (the .wasm files are served by the coordinator under /join/vendor/tfjs-wasm/, nothing is fetched
 * from elsewhere), else plain JavaScript. `?backend=wasm|webgl|cpu` in the page's address picks one.
 * A software WebGL (no GPU) is skipped unless asked for by name.
 * The wasm backend gets the same two conv-gradient kernels the Node client registers, so a
 * convolutional task trains the same way in both.
 */
export type PageBackend = 'webgl' | 'wasm' | 'cpu';
const ORDER: PageBackend[] = ['webgl', 'wasm', 'cpu'];

let ready: Promise<{ name: string; skipped: string[] }> | undefined;

/**
 * The WebGL renderer's name when it is a software rasteriser (SwiftShader, llvmpipe: a machine with
 * no usable GPU), else null. Measured here (bench: browser-train): the MNIST CNN trains about 10x
 * slower on SwiftShader WebGL than on wasm, so the page counts a software GL as no WebGL at all.
 */
function softwareGl(): string | null {
  try {
    const gl = (document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return /swiftshader|llvmpipe|softpipe|software/i.test(renderer) ? renderer : null;
  } catch {
    return null;
  }
}

async function start(name: PageBackend, forced: boolean): Promise<void> {
  if (name === 'webgl' && !forced) {
    const soft = softwareGl();
    if (soft) throw new Error(`WebGL is a software renderer here (${soft}), slower than wasm`);
  }
  if (name === 'wasm') {
    setWasmPaths(new URL('vendor/tfjs-wasm/', location.href).href);
    registerWasmConv2dBackpropFilter();
    registerWasmConv2dBackpropInput();
  }
  if (!(await tf.setBackend(name))) throw new Error(`${name} did not start`);
  await tf.ready();
  if (name === 'webgl') {
    // A software GL (no GPU) starts but is slower than wasm; a tiny op proves the context works.
    const t = tf.tidy(() => tf.sum(tf.ones([4, 4])));
    const v = (await t.data())[0];
    t.dispose();
    if (v !== 16) throw new Error('webgl gave a wrong result');
  }
}

export function initPageBackend(preferred?: string | null): Promise<{ name: string; skipped: string[] }> {
  if (!ready) {
    ready = (async () => {
      const first = ORDER.includes(preferred as PageBackend) ? (preferred as PageBackend) : 'webgl';
      const skipped: string[] = [];
      for (const name of ORDER.slice(ORDER.indexOf(first))) {
        try {
          await start(name, name === preferred);
          return { name: tf.getBackend(), skipped };
        } catch (e) {
          skipped.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      throw new Error(`no TensorFlow.js backend could start in this browser: ${skipped.join('; ')}`);
    })();
    ready.catch(() => (ready = undefined));
  }
  return ready;
}
