import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ModelSpec } from '../model-spec.ts';
import { inlineEvaluator, type Evaluation, type Evaluator, type LabelledSet } from './forward.ts';

export type { Evaluator } from './forward.ts';

/**
 * Runs validation-loss evaluations (forward.ts) on threads, so the leave-one-out passes of a round
 * (one per update) use every core. Each evaluation is the same function on the same inputs wherever
 * it runs, so the scores' bits do not depend on the thread count. Node only: the browser bundle never
 * imports this module (protocol/scoring/index.ts does not export it).
 */
/** What a thread is sent (eval-worker.ts answers `EvalReply`s). */
export type EvalRequest =
  | { type: 'load'; set: number; spec: ModelSpec; x: Float32Array; y: Uint8Array | Uint16Array; n: number }
  | { type: 'eval'; id: number; set: number; weights: Float32Array }
  | { type: 'drop'; set: number };
export type EvalReply = { id: number; loss?: number; losses?: Float64Array; correct?: number; error?: string };

let pool: Worker[] | null = null;
const pending = new Map<number, { resolve: (e: Evaluation) => void; reject: (e: Error) => void }>();
let nextId = 0;
let nextSet = 0;
let turn = 0;

function threads(n: number): Worker[] {
  if (pool && pool.length >= n) return pool;
  pool ??= [];
  while (pool.length < n) {
    const w = new Worker(new URL('./eval-thread.mjs', import.meta.url), { execArgv: [] });
    w.on('message', (m: EvalReply) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`evaluation failed: ${m.error}`));
      else p.resolve({ loss: m.loss!, losses: m.losses!, correct: m.correct! });
      if (pending.size === 0) for (const x of pool ?? []) x.unref();
    });
    w.on('error', (e) => {
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(e);
      }
      // A broken thread is replaced on the next use.
      pool = (pool ?? []).filter((x) => x !== w);
    });
    // Idle threads must not keep a finished process alive.
    w.unref();
    pool.push(w);
  }
  return pool;
}

/** Default threads: every core (the caller's thread only waits while they evaluate). */
export const defaultEvalThreads = () => Math.max(1, cpus().length);

/**
 * An evaluator over `count` threads of the process's shared pool (started on first use, kept for
 * later rounds): each thread gets the model and validation set once, then candidate weights.
 * count <= 1 evaluates inline.
 */
export function threadedEvaluator(spec: ModelSpec, data: LabelledSet, count = defaultEvalThreads()): Evaluator {
  if (count <= 1) return inlineEvaluator(spec, data);
  const ws = threads(count).slice(0, count);
  const set = nextSet++;
  for (const w of ws) w.postMessage({ type: 'load', set, spec, x: data.x, y: data.y, n: data.n } satisfies EvalRequest);
  return {
    parallelism: count,
    evaluate(weights) {
      const id = nextId++;
      const w = ws[turn++ % ws.length]!;
      return new Promise<Evaluation>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.ref();
        w.postMessage({ type: 'eval', id, set, weights } satisfies EvalRequest, weights.byteOffset === 0 && weights.byteLength === weights.buffer.byteLength && weights.buffer instanceof ArrayBuffer ? [weights.buffer] : []);
      });
    },
    close() {
      for (const w of ws) w.postMessage({ type: 'drop', set } satisfies EvalRequest);
    },
  };
}
