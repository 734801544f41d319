import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConv2dBackpropFilter } from './conv2d-backprop-filter.ts';
import { registerWasmConv2dBackpropInput } from './conv2d-backprop-input.ts';

/**
 * Picks the fastest TensorFlow.js backend this machine can run:
 *  - node: @tensorflow/tfjs-node (native TensorFlow), used only when the user installed it;
 *  - wasm: XNNPACK with SIMD, ~4x the cpu backend on dense layers, always available;
 *  - cpu:  plain JavaScript, the last resort.
 * FL_TF_BACKEND (node | wasm | cpu) overrides the caller's preference. A preferred backend that
 * cannot start falls back down that list rather than failing the client.
 */
export type BackendChoice = 'node' | 'wasm' | 'cpu';
export interface BackendInfo {
  /** The tfjs backend name now active: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  tf: typeof tf;
  /** Why preferred backends were skipped, if any were. */
  skipped: string[];
}
export interface InitOptions {
  /** Called once, on the call that actually initialises, with a one-line summary. */
  log?: (message: string) => void;
}

const ORDER: BackendChoice[] = ['node', 'wasm', 'cpu'];
// Kept in a variable so TypeScript neither resolves nor needs types for this optional package.
const TFJS_NODE = '@tensorflow/tfjs-node';

let ready: Promise<BackendInfo> | undefined;

function parseChoice(value: string, source: string): BackendChoice {
  const v = value.trim().toLowerCase();
  if (v === 'tensorflow') return 'node';
  if ((ORDER as string[]).includes(v)) return v as BackendChoice;
  throw new Error(`${source}: unknown TensorFlow.js backend '${value}' (expected node, wasm or cpu)`);
}

async function tryNode(): Promise<string> {
  await import(TFJS_NODE);
  // tfjs-node registers on the tfjs-core it resolves; if npm installed a second copy of core for
  // it (version mismatch), our engine never sees the backend and we must not claim it.
  if (!tf.findBackendFactory('tensorflow')) throw new Error('tfjs-node loaded but registered on another copy of tfjs-core');
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node backend failed to initialise');
  return 'tensorflow';
}

async function tryWasm(): Promise<string> {
  try {
    // Point the loader at the package's own .wasm files; harmless when it would find them anyway,
    // and needed when this code runs from a bundle whose __dirname is elsewhere.
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    setWasmPaths(`${dirname(main)}/`);
  } catch {
    // Refused after an aborted init, or not resolvable: the loader's default paths stand.
  }
  registerWasmConv2dBackpropFilter();
  registerWasmConv2dBackpropInput();
  // The Emscripten glue adds process handlers that rethrow every uncaught exception and unhandled
  // rejection from inside its minified source, so Node prints a megabyte-long line instead of the
  // real error. Node's defaults already crash on both; we drop the glue's handlers.
  const events = ['uncaughtException', 'unhandledRejection'];
  const listeners = (e: string) => process.listeners(e as 'uncaughtException') as ((...a: unknown[]) => void)[];
  const before = events.map((e) => new Set(listeners(e)));
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  } finally {
    events.forEach((e, i) => {
      for (const l of listeners(e)) if (!before[i]!.has(l)) process.removeListener(e, l);
    });
  }
  return 'wasm';
}

async function tryCpu(): Promise<string> {
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  return 'cpu';
}

const STARTERS: Record<BackendChoice, () => Promise<string>> = { node: tryNode, wasm: tryWasm, cpu: tryCpu };

async function init(preferred: BackendChoice | undefined, opts: InitOptions): Promise<BackendInfo> {
  const env = process.env['FL_TF_BACKEND'];
  const first = env ? parseChoice(env, 'FL_TF_BACKEND') : preferred ? parseChoice(preferred, 'initBackend') : 'node';
  const skipped: string[] = [];
  for (const choice of ORDER.slice(ORDER.indexOf(first))) {
    try {
      const name = await STARTERS[choice]();
      await tf.ready();
      opts.log?.(`TensorFlow.js backend: ${name}${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`);
      return { name, tf, skipped };
    } catch (e) {
      const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
      // A missing optional package is the normal case, not worth a stack trace.
      skipped.push(choice === 'node' && /Cannot find (package|module)/.test(reason) ? 'node: @tensorflow/tfjs-node not installed' : `${choice}: ${reason}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.join('; ')}`);
}

/** Initialises the TensorFlow.js backend once per process; later calls return the same result. */
export function initBackend(preferred?: BackendChoice, opts: InitOptions = {}): Promise<BackendInfo> {
  if (!ready) {
    ready = init(preferred, opts);
    // A failed start must not poison later attempts.
    ready.catch(() => (ready = undefined));
  }
  return ready;
}
