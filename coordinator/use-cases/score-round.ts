import { decodeCheckpoint, decodeManifest, decodeWire, weightManifest, type AcceptedUpdate, type RoundManifest, type Task } from '../../protocol/index.ts';
import { COPY_WINDOW_ROUNDS, scoreContributions, type ContributionBlock } from '../../protocol/scoring/contribution.ts';
import { aggregateStep, earlierItems } from '../../protocol/scoring/earlier.ts';
import { threadedEvaluator } from '../../protocol/scoring/eval-threads.ts';
import { decodeValidationSet } from '../../protocol/scoring/validation-set.ts';
import type { CoordinatorContext } from '../context.ts';

/**
 * The validation-gain scores of a round being closed (protocol/scoring/contribution.ts), from the
 * archived updates (close-round archives every accepted delta first), the task's validation set
 * and the manifests of the rounds in the copy window. Reads each delta from the store when needed,
 * so memory stays O(model). The auditor recomputes the same block from the same public bytes.
 */
export async function scoreRound(ctx: CoordinatorContext, t: Task, round: number, baseHash: string, base: Float32Array, accepted: readonly AcceptedUpdate[]): Promise<ContributionBlock> {
  const validationHash = t.rewards.validation;
  if (!validationHash) throw new Error(`task ${t.id} scores by validation gain but names no validation set`);
  const vBytes = await ctx.store.get('validation', validationHash);
  if (!vBytes) throw new Error(`validation set ${validationHash} of task ${t.id} is missing from the store`);
  const validation = decodeValidationSet(vBytes);
  const wm = weightManifest(t.modelSpec);
  const manifests = new Map<number, RoundManifest>();
  for (let r = Math.max(1, round - COPY_WINDOW_ROUNDS); r < round; r++) {
    const head = await ctx.rounds.get(t.id, r);
    if (!head?.manifestHash) continue;
    const bytes = await ctx.store.get('manifests', head.manifestHash);
    if (!bytes) throw new Error(`manifest ${head.manifestHash} of round ${t.id}/${r} is missing from the store`);
    manifests.set(r, decodeManifest(bytes));
  }
  const earlier = earlierItems(round, manifests);
  const weightsOf = async (hash: string) => {
    const bytes = await ctx.store.get('checkpoints', hash);
    if (!bytes) throw new Error(`checkpoint ${hash} is missing from the store`);
    return decodeCheckpoint(bytes).weights;
  };
  const loadUpdate = async (hash: string) => {
    const bytes = await ctx.store.get('updates', hash);
    if (!bytes) throw new Error(`archived update ${hash} is missing from the store`);
    return decodeWire(t.wire, bytes, wm.size);
  };
  // Arrival order by the coordinator's acceptance time; the client breaks ties.
  const arrival = [...accepted].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.client < b.client ? -1 : 1)).map((a) => a.client);
  const updates = [...accepted].sort((a, b) => (a.client < b.client ? -1 : 1)).map((a) => ({ client: a.client, updateHash: a.updateHash, numSamples: a.numSamples }));
  // The leave-one-out passes on every core (the same bits as inline).
  const evaluator = threadedEvaluator(t.modelSpec, validation);
  return scoreContributions({
    evaluator,
    spec: t.modelSpec,
    base,
    baseHash,
    validation,
    validationHash,
    updates,
    arrival,
    earlier,
    loadUpdate,
    async loadEarlier(item) {
      if (item.kind === 'update') return loadUpdate(item.hash);
      const m = manifests.get(item.round) as RoundManifest;
      return aggregateStep(await weightsOf(m.checkpointHash), await weightsOf(m.baseHash));
    },
  }).finally(() => evaluator.close());
}
