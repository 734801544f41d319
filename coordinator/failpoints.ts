/**
 * Failpoints: named places in the coordinator and the worker where a fault test can freeze a real
 * process, so that it SIGKILLs it at an exact moment (mid-aggregation, mid-job) instead of racing a
 * few milliseconds of work. Armed only by the FAILPOINTS environment variable (parsed with the rest
 * of the config); unarmed, each call is one Set lookup and nothing else.
 *
 * A process that reaches an armed failpoint writes one JSON line `{"failpoint": name}` to stderr,
 * then waits forever with its timers still running (locks keep being renewed, as in a slow step).
 */
import { z } from 'zod';

export const FAILPOINT_NAMES = [
  /** Worker: the job's blob has been moved into the worker's own key, nothing accepted yet. */
  'worker.after-blob-move',
  /** Coordinator: a closing round's deltas are aggregated and archived, its checkpoint not written. */
  'close.after-archive',
  /** Coordinator: a task is registered and its reward budget funded on chain, neither recorded yet. */
  'chain.after-task-funded',
  /** Coordinator: a round's commit transaction is mined, the round not yet marked committed. */
  'chain.after-commit-mined',
] as const;
export type FailpointName = (typeof FAILPOINT_NAMES)[number];

/** `FAILPOINTS=a,b`: comma-separated names from FAILPOINT_NAMES; an unknown name is a config error. */
export const FailpointsEnv = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.enum(FAILPOINT_NAMES)));

const armed = new Set<FailpointName>();

export function armFailpoints(names: readonly FailpointName[]): void {
  for (const n of names) armed.add(n);
}

/** Resolves at once unless `name` is armed; then announces it and never resolves. */
export function failpoint(name: FailpointName): Promise<void> {
  if (!armed.has(name)) return Promise.resolve();
  process.stderr.write(`${JSON.stringify({ failpoint: name, pid: process.pid })}\n`);
  return new Promise<void>(() => {});
}
