import type { ServerState } from '../../protocol/index.ts';

/** Deep copy of a server state, so a result never aliases (and can never mutate) the input state. */
export function copyServerState(state: ServerState): ServerState {
  const tensors: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(state.tensors)) tensors[name] = t.slice();
  return { scalars: { ...state.scalars }, tensors };
}
