import {
  CreateTaskBody,
  emptyServerState,
  encodeCheckpoint,
  initialWeights,
  PRESET_MODELS,
  SCORE_RULES,
  weightManifest,
  type ModelSpec,
  type Task,
} from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { parseOr400 } from './parse.ts';

/** Creates a task and its genesis checkpoint (deterministic from the model spec and seed). */
export async function createTask(ctx: CoordinatorContext, body: unknown): Promise<Task> {
  const b = parseOr400(CreateTaskBody, body, 'task');
  if (!(b.rewards.scoring in SCORE_RULES)) throw new AppError('VALIDATION_FAILED', 400, `invalid task: rewards.scoring: unknown rule '${b.rewards.scoring}' (known: ${Object.keys(SCORE_RULES).join(', ')})`);
  const modelSpec: ModelSpec = typeof b.model === 'string' ? structuredClone(PRESET_MODELS[b.model]) as ModelSpec : b.model;
  const id = await ctx.tasks.nextId();
  const genesis = encodeCheckpoint({
    task: id,
    round: 0,
    parentHash: null,
    strategy: b.strategy.name,
    modelSpec,
    weights: initialWeights(modelSpec, b.seed),
    serverState: emptyServerState(),
  });
  const genesisHash = await ctx.store.put('checkpoints', genesis);
  const def = {
    id,
    name: b.name,
    modelSpec,
    params: weightManifest(modelSpec).size,
    training: b.training,
    strategy: b.strategy,
    limits: b.limits,
    rewards: b.rewards,
    privacy: b.privacy,
    seed: b.seed,
    createdAt: new Date(ctx.now()).toISOString(),
    genesisHash,
    eip712: ctx.domain,
  };
  await ctx.tasks.create(def);
  ctx.log.info({ task: id, params: def.params, genesisHash }, 'task created');
  return { ...def, checkpointHash: genesisHash, lastRound: 0 };
}
