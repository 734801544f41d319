import type { RoundManifest } from '../manifest.ts';
import { COPY_WINDOW_ROUNDS, type EarlierItem } from './contribution.ts';

/**
 * What round r's updates are checked against for copies: every accepted update of each of the last
 * COPY_WINDOW_ROUNDS aggregated rounds, and each such round's aggregate step (its checkpoint minus
 * its base), oldest round first, updates in manifest order before the aggregate. The coordinator
 * and the auditor both build the list with this function from the rounds' manifests.
 */
export function earlierItems(round: number, manifests: ReadonlyMap<number, Pick<RoundManifest, 'entries' | 'checkpointHash'>>): EarlierItem[] {
  const items: EarlierItem[] = [];
  for (let r = Math.max(1, round - COPY_WINDOW_ROUNDS); r < round; r++) {
    const m = manifests.get(r);
    if (!m) continue; // a failed round: nothing was published to copy
    for (const e of m.entries) if (e.status === 'accepted' && e.updateHash) items.push({ round: r, kind: 'update', hash: e.updateHash });
    items.push({ round: r, kind: 'aggregate', hash: m.checkpointHash });
  }
  return items;
}

/** The aggregate step of a round: its checkpoint's weights minus its base's, rounded to float32. */
export function aggregateStep(checkpoint: Float32Array, base: Float32Array): Float32Array {
  return Float32Array.from(checkpoint, (v, i) => v - (base[i] as number));
}
