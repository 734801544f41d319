// Thread of eval-threads.ts. In: EvalRequest ('load' a model and validation set under a number,
// 'eval' candidate weights against one, 'drop' one). Out, per 'eval': EvalReply { id, loss, losses,
// correct } (losses transferred) or { id, error }.
import { parentPort } from 'node:worker_threads';
import type { ModelSpec } from '../model-spec.ts';
import type { EvalReply, EvalRequest } from './eval-threads.ts';
import { deterministicEvaluate, type LabelledSet } from './forward.ts';

const sets = new Map<number, { spec: ModelSpec; data: LabelledSet }>();

parentPort!.on('message', (m: EvalRequest) => {
  if (m.type === 'load') sets.set(m.set, { spec: m.spec, data: { x: m.x, y: m.y, n: m.n } });
  else if (m.type === 'drop') sets.delete(m.set);
  else {
    let reply: EvalReply;
    try {
      const s = sets.get(m.set);
      if (!s) throw new Error(`no validation set ${m.set} on this thread`);
      const e = deterministicEvaluate(s.spec, m.weights, s.data);
      reply = { id: m.id, loss: e.loss, losses: e.losses, correct: e.correct };
      parentPort!.postMessage(reply, [e.losses.buffer as ArrayBuffer]);
      return;
    } catch (e) {
      reply = { id: m.id, error: e instanceof Error ? e.message : String(e) };
    }
    parentPort!.postMessage(reply);
  }
});
