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
 * The wasm backend gets the same two conv-gradient kernels the Node client registers, so a
 * convolutional task trains the same way in both.
 */
export type PageBackend = 'webgl' | 'wasm' | 'cpu';
const ORDER: PageBackend[] = ['webgl', 'wasm', 'cpu'];

let ready: Promise<{ name: string; skipped: string[] }> | undefined;

async function start(name: PageBackend): Promise<void> {
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
          await start(name);
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
