import { initBackend } from './backend.ts';
import { evaluateOnActiveBackend, trainOnActiveBackend, type EvaluateArgs, type TrainLocalArgs, type TrainResult } from './train-loop.ts';

/** Node's entry to local training: starts the best backend this machine has, then runs the shared loop. */
export type { EvaluateArgs, LabelledData, TrainingConfig, TrainLocalArgs, TrainProgress, TrainResult } from './train-loop.ts';

/** Trains a copy of the global model on local data; returns new weights, delta and loss. */
export async function trainLocal(args: TrainLocalArgs): Promise<TrainResult> {
  await initBackend();
  return trainOnActiveBackend(args);
}

/** Accuracy and mean cross-entropy of the given weights on a labelled set. */
export async function evaluate(args: EvaluateArgs): Promise<{ accuracy: number; loss: number }> {
  await initBackend();
  return evaluateOnActiveBackend(args);
}
