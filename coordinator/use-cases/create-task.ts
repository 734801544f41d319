import {
  CreateTaskBody,
  emptyServerState,
  DEFAULT_OPEN_WIRE,
  FLOAT32_WIRE,
  encodeCheckpoint,
  initialWeights,
  PRESET_MODELS,
  SCORE_RULES,
  weightManifest,
  type Hex32,
  type ModelSpec,
  type Task,
} from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { parseOr400 } from './parse.ts';
import { secureScale, type SecureAggConfig } from '../../protocol/secagg/config.ts';
import { checkValidationFits, decodeValidationSet } from '../../protocol/scoring/validation-set.ts';
import { VALIDATION_GAIN_RULE } from '../../protocol/rewards.ts';
import { activeKeySet, keysPin } from '../../circuits/key-set.ts';
import type { ZkKeysPin } from '../../protocol/checkpoint-format.ts';

/** Creates a task and its genesis checkpoint (deterministic from the model spec and seed). */
export async function createTask(ctx: CoordinatorContext, body: unknown): Promise<Task> {
  const b = parseOr400(CreateTaskBody, body, 'task');
  if (!(b.rewards.scoring in SCORE_RULES)) throw new AppError('VALIDATION_FAILED', 400, `invalid task: rewards.scoring: unknown rule '${b.rewards.scoring}' (known: ${Object.keys(SCORE_RULES).join(', ')})`);
  if (b.secure) checkSecureTask(b);
  if (b.async) checkAsyncTask(b);
  const modelSpec: ModelSpec = typeof b.model === 'string' ? structuredClone(PRESET_MODELS[b.model]) as ModelSpec : b.model;
  await checkScoring(ctx, b, modelSpec);
  const zk = b.privacy === 'private' ? privateTaskKeys(ctx) : undefined;
  const id = await ctx.tasks.nextId();
  const genesis = encodeCheckpoint({
    task: id,
    round: 0,
    parentHash: null,
    strategy: b.strategy.name,
    modelSpec,
    weights: initialWeights(modelSpec, b.seed),
    serverState: emptyServerState(),
    ...(b.rewards.validation ? { validationHash: b.rewards.validation as Hex32 } : {}),
    ...(zk ? { zkKeys: zk } : {}),
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
    ...(b.secure ? { secure: b.secure } : {}),
    ...(b.async ? { async: b.async } : {}),
    ...(zk ? { zk } : {}),
    // int8 for open tasks unless the creator asks for float32; a secure task's words are its own format.
    wire: b.wire ?? (b.secure ? FLOAT32_WIRE : DEFAULT_OPEN_WIRE),
    seed: b.seed,
    createdAt: new Date(ctx.now()).toISOString(),
    genesisHash,
    eip712: ctx.domain,
  };
  await ctx.tasks.create(def);
  ctx.log.info({ task: id, params: def.params, genesisHash }, 'task created');
  return { ...def, checkpointHash: genesisHash, lastRound: 0 };
}

/**
 * The keys a new private task pins: the process's (FL_ZK_KEYS's ceremony, else the development
 * keys). In production the development keys are refused: their toxic waste is public.
 */
function privateTaskKeys(ctx: CoordinatorContext): ZkKeysPin {
  const keys = activeKeySet();
  if (keys.kind === 'development' && ctx.production) {
    throw new AppError('DEVELOPMENT_KEYS', 409, 'private tasks need keys from a setup ceremony in production: this coordinator has the development keys (a public beacon only, so anyone can forge membership and claim proofs). Run one with fl-ceremony (docs/private-tasks.md, "Setup ceremony") and start the coordinator with FL_ZK_KEYS=<ceremony folder>');
  }
  return keysPin(keys);
}

/**
 * The validation-gain rule scores on a validation set fixed now: it must be in the store already
 * (POST /v1/validation-sets) and fit the model. It needs every individual update, so not secure.
 */
async function checkScoring(ctx: CoordinatorContext, b: ReturnType<typeof CreateTaskBody.parse>, spec: ModelSpec): Promise<void> {
  const gain = b.rewards.scoring === VALIDATION_GAIN_RULE;
  if (!gain) {
    if (b.rewards.validation) throw new AppError('VALIDATION_FAILED', 400, `invalid task: rewards.validation goes with the ${VALIDATION_GAIN_RULE} rule only`);
    return;
  }
  if (b.secure) throw new AppError('SECURE_UNSUPPORTED', 400, `invalid task: secure: the ${VALIDATION_GAIN_RULE} rule scores individual updates, which a secure task never reveals; secure tasks pay by declared, bounded samples`);
  if (!b.rewards.validation) throw new AppError('VALIDATION_FAILED', 400, `invalid task: rewards.validation: the ${VALIDATION_GAIN_RULE} rule needs the hash of a validation set (POST /v1/validation-sets)`);
  const bytes = await ctx.store.get('validation', b.rewards.validation);
  if (!bytes) throw new AppError('UNKNOWN_VALIDATION_SET', 400, `invalid task: rewards.validation: no validation set ${b.rewards.validation} in the store (POST /v1/validation-sets first)`);
  try {
    checkValidationFits(decodeValidationSet(bytes), spec);
  } catch (e) {
    throw new AppError('VALIDATION_FAILED', 400, `invalid task: rewards.validation: ${(e as Error).message}`);
  }
}

/**
 * What a secure task cannot have: a rule that needs to see individual updates (median, trimmed mean,
 * Krum: the coordinator only ever sees the sum), or server-side clipping or noise (clients clip and
 * add noise themselves, before masking). Private (zero-knowledge) tasks combine with it.
 */
/**
 * What an async (FedBuff) task cannot be yet, refused up front rather than half working: secure
 * rounds need every client in one synchronised protocol run; private nullifiers are per round, so a
 * stale member's proof would name an old round; validation-gain scores a round's updates against its
 * own base, which a stale update was not trained on.
 */
function checkAsyncTask(b: ReturnType<typeof CreateTaskBody.parse>): void {
  const refuse = (message: string) => {
    throw new AppError('ASYNC_UNSUPPORTED', 400, `invalid task: async: ${message}`);
  };
  if (b.secure) refuse('secure aggregation runs every client through one synchronised protocol round; use synchronous rounds');
  if (b.privacy === 'private') refuse('private tasks are not buffered yet (a membership nullifier is per round); use synchronous rounds');
  if (b.rewards.scoring === VALIDATION_GAIN_RULE) refuse(`the ${VALIDATION_GAIN_RULE} rule is not defined for stale updates yet; use accepted-samples`);
}

const MEAN_DRIVEN: ReadonlySet<string> = new Set(['fedavg', 'fedavgm', 'fedadam', 'fedyogi']);

function checkSecureTask(b: ReturnType<typeof CreateTaskBody.parse>): void {
  const refuse = (message: string) => {
    throw new AppError('SECURE_UNSUPPORTED', 400, `invalid task: secure: ${message}`);
  };
  // The mean-driven rules see only the (unmasked) sum, which is all a secure round reveals.
  if (!MEAN_DRIVEN.has(b.strategy.name)) {
    refuse(`strategy ${b.strategy.name} needs the individual updates, which a secure task never reveals; use ${[...MEAN_DRIVEN].join(', ')} (the per-coordinate range bound is the defence against outliers)`);
  }
  if (b.wire && b.wire.codec !== 'float32') refuse(`wire ${b.wire.codec} is for open updates: a secure task's masked words are already fixed-point (secure.bits)`);
  if (b.strategy.clip) refuse('strategy.clip is applied by each client before masking in a secure task: set secure.clipNorm instead');
  if ('dp' in b.strategy && b.strategy.dp) refuse('strategy.dp adds noise at the coordinator, which could subtract it: set secure.dp, and clients add the noise themselves');
  try {
    secureScale(b.secure as SecureAggConfig);
  } catch (e) {
    refuse((e as Error).message);
  }
}
