import { checkClientDelta, checkSeen } from './input-checks.ts';
import type { AggregateInput, ClientDelta } from './strategy.ts';

/**
 * Materialises every delta of the round, for the robust rules that compare clients with each other and
 * so are inherently O(clients x model) in memory. Each delta is copied: the producer may reuse or
 * recycle its buffer between yields (as a streaming source is entitled to), and copies also guarantee
 * the strategy can never write into the caller's data.
 */
export async function collectDeltas(input: AggregateInput): Promise<ClientDelta[]> {
  const params = input.base.length;
  const out: ClientDelta[] = [];
  for await (const d of input.deltas()) {
    checkClientDelta(d, params);
    out.push({ id: d.id, delta: d.delta.slice(), numSamples: d.numSamples });
  }
  checkSeen(out.length, input.count);
  return out;
}
