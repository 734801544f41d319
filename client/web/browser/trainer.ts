import { initPageBackend } from '../browser-backend.ts';
import { evaluateOnActiveBackend, trainOnActiveBackend, type EvaluateArgs, type TrainLocalArgs, type TrainResult } from '../../tf/train-loop.ts';

/**
 * The page's stand-in for client/tf/trainer.ts: the same shared training loop, on the backend the
 * page starts (WebGL, else WebAssembly, else JavaScript). The bundler swaps it in for the Node one.
 */
export type { EvaluateArgs, LabelledData, TrainingConfig, TrainLocalArgs, TrainProgress, TrainResult } from '../../tf/train-loop.ts';

let preferred: string | null = null;
/** The backend to try first (the page's ?backend=); call before the first training. */
export function preferBackend(name: string | null): void {
  preferred = name;
}

export async function trainLocal(args: TrainLocalArgs): Promise<TrainResult> {
  await initPageBackend(preferred);
  return trainOnActiveBackend(args);
}

export async function evaluate(args: EvaluateArgs): Promise<{ accuracy: number; loss: number }> {
  await initPageBackend(preferred);
  return evaluateOnActiveBackend(args);
}
