import { z } from 'zod';
import { ModelSpec, PRESET_MODELS } from './model-spec.ts';
import { SNARK_FIELD } from './zk/field.ts';
import { PackedProof } from './zk/packed-proof.ts';
import { MAX_ROUND_REWARD } from './rewards.ts';
import { SecureAggConfig } from './secagg/config.ts';
import { FLOAT32_WIRE, WireCodec } from './wire-codec.ts';
import { AsyncConfig } from './async-rounds.ts';
import { ZkKeysPin } from './checkpoint-format.ts';

/** Wire schemas shared by coordinator and clients; every type is inferred from its schema. */

export const Address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed 20-byte hex address')
  .transform((a) => a.toLowerCase() as `0x${string}`);
export const Hash32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'an 0x-prefixed 32-byte hex hash')
  .transform((h) => h.toLowerCase() as `0x${string}`);
/** A non-zero BN254 field element as a decimal string (an identity commitment). */
export const FieldElement = z
  .string()
  // abort: zod 4 runs later checks after a failed one, and BigInt() throws on a non-number (found by fuzzing).
  .regex(/^[1-9][0-9]{0,76}$/, { message: 'a non-zero decimal integer', abort: true })
  .refine((v) => BigInt(v) < SNARK_FIELD, 'below the BN254 field modulus');
/** A private update's nullifier as a 32-byte word; it must be a field element to verify. */
export const Nullifier = Hash32.refine((h) => BigInt(h) < SNARK_FIELD, 'a BN254 field element');
/** Who sent an update: a wallet address (public tasks) or a nullifier (private tasks). */
export const Contributor = z.union([Address, Hash32]);
/** public: signed uploads, rewards to addresses; private: zero-knowledge uploads and claims. */
export const Privacy = z.enum(['public', 'private']);
export type Privacy = z.infer<typeof Privacy>;

export const Signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'an 0x-prefixed 65-byte signature');
export const TaskId = z.coerce.number().int().min(1).max(2 ** 40);
export const RoundNo = z.coerce.number().int().min(1).max(2 ** 40);
/**
 * The same ranges without coercion, for JSON payloads: coercion suits path parameters (strings), but
 * in a job it would read `true` or "1" as task 1 (found by fuzzing the job payload).
 */
export const TaskIdNumber = z.number().int().min(1).max(2 ** 40);
export const RoundNoNumber = z.number().int().min(1).max(2 ** 40);

export const PresetName = z.enum(Object.keys(PRESET_MODELS) as [keyof typeof PRESET_MODELS, ...(keyof typeof PRESET_MODELS)[]]);

export const TrainingConfig = z.strictObject({
  localEpochs: z.number().int().min(1).max(100).default(1),
  batchSize: z.number().int().min(1).max(4096).default(32),
  learningRate: z.number().positive().max(10).default(0.01),
  optimizer: z.enum(['sgd', 'adam']).default('sgd'),
});
export type TrainingConfig = z.infer<typeof TrainingConfig>;

/**
 * Wrappers any strategy can take. `clip`: every update is scaled down to at most this L2 norm before
 * the rule sees it (coordinator/strategies/clip.ts). Absent from a config, it is absent from its
 * manifest too, so configs without it hash as they always did.
 */
const StrategyWrappers = { clip: z.strictObject({ maxNorm: z.number().positive().max(1e12) }).optional() };

/**
 * Differential privacy on FedAvg (coordinator/strategies/dp.ts): every update clipped to clipNorm,
 * Gaussian noise with std noiseMultiplier x the weighted mean's sensitivity added to the aggregate,
 * and the privacy spent (epsilon at delta, protocol/dp-accountant.ts) recorded in each manifest.
 */
export const DpConfig = z.strictObject({
  clipNorm: z.number().positive().max(1e6),
  noiseMultiplier: z.number().min(0.1).max(100),
  delta: z.number().gt(0).lt(0.1),
});
export type DpConfig = z.infer<typeof DpConfig>;

export const StrategyConfig = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('fedavg'), ...StrategyWrappers, dp: DpConfig.optional() }),
  // Server optimisers (Reddi et al. 2021). Defaults: FedAvgM eta 1, beta 0.5 (measured best of the
  // tried values on the demo's non-IID MNIST); FedAdam/FedYogi with the paper's eta 10^-2, beta1 0.9,
  // beta2 0.99, tau 10^-3 (docs/strategies.md has the measurements).
  z.strictObject({
    name: z.literal('fedavgm'),
    serverLr: z.number().positive().max(10).default(1),
    momentum: z.number().min(0).max(0.999).default(0.5),
    ...StrategyWrappers,
  }),
  z.strictObject({
    name: z.literal('fedyogi'),
    serverLr: z.number().positive().max(10).default(0.01),
    beta1: z.number().min(0).max(0.9999).default(0.9),
    beta2: z.number().min(0).max(0.99999).default(0.99),
    tau: z.number().positive().max(1).default(1e-3),
    ...StrategyWrappers,
  }),
  z.strictObject({
    name: z.literal('fedadam'),
    serverLr: z.number().positive().max(10).default(0.01),
    beta1: z.number().min(0).max(0.9999).default(0.9),
    beta2: z.number().min(0).max(0.99999).default(0.99),
    tau: z.number().positive().max(1).default(1e-3),
    ...StrategyWrappers,
  }),
  z.strictObject({ name: z.literal('median'), ...StrategyWrappers }),
  z.strictObject({ name: z.literal('trimmed-mean'), trimFraction: z.number().min(0).max(0.49).default(0.1), ...StrategyWrappers }),
  z.strictObject({ name: z.literal('krum'), byzantine: z.number().int().min(0).max(1000).default(1), select: z.number().int().min(1).max(10000).default(1), ...StrategyWrappers }),
]);
export type StrategyConfig = z.infer<typeof StrategyConfig>;

export const UpdateLimits = z.strictObject({
  /** Updates whose L2 norm exceeds this are rejected (0 = no limit). */
  maxNorm: z.number().min(0).default(0),
  minSamples: z.number().int().min(1).default(1),
  maxSamples: z.number().int().min(1).max(1e9).default(10_000_000),
});

/** Token base units as a decimal string: exact for any uint256, unlike a JSON number. */
export const TokenAmount = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'a non-negative integer in token base units, as a decimal string');

export const RewardsConfig = z.strictObject({
  /**
   * Reward paid out per aggregated round, split pro rata over the contributors' scores. Below 2^96
   * (7.9e28 base units), the most the distributor's packed round slot holds.
   */
  perRound: TokenAmount.refine((v) => BigInt(v) <= MAX_ROUND_REWARD, `at most ${MAX_ROUND_REWARD} (2^96 - 1) base units per round`).default('0'),
  /** What the coordinator deposits in the reward distributor when it registers the task on chain. */
  budget: TokenAmount.default('0'),
  /** Name of the scoring rule (protocol/rewards.ts SCORE_RULES). */
  scoring: z.string().min(1).max(64).default('accepted-samples'),
  /**
   * The validation-gain rule: keccak256 of the validation set (protocol/scoring/validation-set.ts)
   * the scores are measured on, uploaded with POST /v1/validation-sets before the task is created.
   */
  validation: Hash32.optional(),
});

export const CreateTaskBody = z
  .object({
    name: z.string().min(1).max(120),
    model: z.union([PresetName, ModelSpec]),
    training: TrainingConfig.default(TrainingConfig.parse({})),
    strategy: StrategyConfig.default({ name: 'fedavg' }),
    limits: UpdateLimits.default(UpdateLimits.parse({})),
    rewards: RewardsConfig.default(RewardsConfig.parse({})),
    /** 'private': members prove membership in zero knowledge instead of signing (protocol/zk). */
    privacy: Privacy.default('public'),
    /**
     * Secure aggregation (docs/secure-mode.md): clients upload masked fixed-point updates that only
     * sum to something readable, so no one sees an individual update. Absent: open updates.
     */
    secure: SecureAggConfig.optional(),
    /**
     * How open updates travel (protocol/wire-codec.ts): `{"codec":"int8"}` (1.02 bytes a parameter,
     * stochastic rounding, per-block scales; the default) or `{"codec":"float32"}` (4 bytes).
     * Not for secure tasks, whose masked words are their own fixed-point format.
     */
    wire: WireCodec.optional(),
    /**
     * Asynchronous buffered rounds (FedBuff, protocol/async-rounds.ts, docs/async-rounds.md): each
     * round is a buffer of `buffer` updates that may have been trained on up to `maxStaleness`
     * earlier checkpoints. Absent: synchronous rounds.
     */
    async: AsyncConfig.optional(),
    /** Seed of the deterministic initial weights. */
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  })
  .strict();
export type CreateTaskBody = z.input<typeof CreateTaskBody>;

export const Task = z.object({
  id: TaskId,
  name: z.string(),
  modelSpec: ModelSpec,
  params: z.number().int(),
  training: TrainingConfig,
  strategy: StrategyConfig,
  limits: UpdateLimits,
  rewards: RewardsConfig,
  privacy: Privacy.default('public'),
  secure: SecureAggConfig.optional(),
  /** The update codec (absent in tasks made before it existed: float32). */
  wire: WireCodec.default(FLOAT32_WIRE),
  async: AsyncConfig.optional(),
  /** Private tasks: the zero-knowledge keys, as pinned in the genesis checkpoint. */
  zk: ZkKeysPin.optional(),
  seed: z.number().int(),
  createdAt: z.string(),
  genesisHash: Hash32,
  /** Newest checkpoint: the genesis one until a round aggregates. */
  checkpointHash: Hash32,
  /** Number of the newest round opened (0 = none yet). */
  lastRound: z.number().int().min(0),
  eip712: z.object({ name: z.string(), version: z.string(), chainId: z.number().int() }),
});
export type Task = z.infer<typeof Task>;

export const OpenRoundBody = z
  .object({
    durationSeconds: z.number().positive().max(7 * 86400).default(300),
    minClients: z.number().int().min(1).max(100_000).default(1),
    maxClients: z.number().int().min(1).max(100_000).default(1000),
    /** Optional per-round override of the task's training settings. */
    training: TrainingConfig.partial().optional(),
    /**
     * Async tasks: how many buffers to run back to back (each opens when the previous one aggregates,
     * with these settings). maxClients is the task's buffer size then.
     */
    buffers: z.number().int().min(1).max(100_000).optional(),
  })
  .strict()
  .refine((b) => b.minClients <= b.maxClients, { message: 'minClients must not exceed maxClients', path: ['minClients'] });
export type OpenRoundBody = z.input<typeof OpenRoundBody>;

/**
 * The phases of a secure round while it is 'open': clients advertise keys, deal their shares,
 * upload masked updates, sign the survivor list (consistency), then reveal what unmasks the sum
 * (protocol/secagg). 'done' once closing.
 */
export const SecurePhase = z.enum(['keys', 'shares', 'masked', 'consistency', 'unmask', 'done']);
export type SecurePhase = z.infer<typeof SecurePhase>;

/** open -> closing -> aggregated -> committed (on chain), or closing -> failed (quorum missed). */
export const RoundStateName = z.enum(['open', 'closing', 'aggregated', 'committed', 'failed']);
export type RoundStateName = z.infer<typeof RoundStateName>;

export const Rejection = z.object({
  jobId: z.string(),
  client: z.string(),
  updateHash: z.string(),
  code: z.string(),
  reason: z.string(),
  at: z.string(),
});
export type Rejection = z.infer<typeof Rejection>;

export const AcceptedUpdate = z.object({
  jobId: z.string(),
  /** The sender's address, or in private tasks the update's nullifier. */
  client: Contributor,
  updateHash: Hash32,
  numSamples: z.number().int(),
  norm: z.number(),
  at: z.string(),
  /** Private tasks: the membership proof, kept for the manifest. */
  proof: PackedProof.optional(),
  /** Async tasks: the round whose base checkpoint the update was trained on, and how many buffers ago that was. */
  trainedFor: RoundNoNumber.optional(),
  staleness: z.number().int().min(0).optional(),
  /** Async tasks: 0-based position in the buffer's arrival order, the order it is folded in. */
  arrival: z.number().int().min(0).optional(),
});
export type AcceptedUpdate = z.infer<typeof AcceptedUpdate>;

export const Round = z.object({
  task: TaskId,
  round: RoundNo,
  state: RoundStateName,
  openedAt: z.string(),
  deadline: z.string(),
  baseHash: Hash32,
  /** Private tasks: root of the members tree when the round opened (the chain's participationRoot). */
  membersRoot: Hash32.nullable().default(null),
  /** Private tasks: members behind membersRoot (the first membersCount admitted). */
  membersCount: z.number().int().min(0).default(0),
  minClients: z.number().int(),
  maxClients: z.number().int(),
  training: TrainingConfig,
  strategy: StrategyConfig,
  received: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  acceptedUpdates: z.array(AcceptedUpdate),
  rejections: z.array(Rejection),
  checkpointHash: Hash32.nullable(),
  /** keccak256 of the round's contributions manifest (protocol/manifest.ts), once aggregated. */
  manifestHash: Hash32.nullable(),
  /** Root of the (address, amount) rewards tree; all zeros when nothing was allocated. */
  rewardsRoot: Hash32.nullable(),
  /** Token base units allocated to the round's contributors. */
  reward: TokenAmount.nullable(),
  failureReason: z.string().nullable(),
  closedAt: z.string().nullable(),
  /** The chain transaction that committed the round, once mined. */
  commit: z.object({ txHash: Hash32, blockNumber: z.number().int() }).nullable(),
  /** Why the last commit attempt failed (the writer retries; an aggregated round is never lost). */
  commitError: z.string().nullable(),
  /** Secure rounds: the protocol phase and its deadline (GET …/secure has the messages); null otherwise. */
  secure: z
    .object({ phase: SecurePhase, phaseDeadline: z.string(), threshold: z.number().int().nullable() })
    .nullable()
    .default(null),
});
export type Round = z.infer<typeof Round>;

export const RegistrationChallengeBody = z.object({ address: Address }).strict();

/** A single-use registration challenge for one address of one task, valid until expiresAt (unix seconds). */
export const RegistrationChallenge = z.object({
  task: TaskId,
  address: Address,
  nonce: Hash32,
  expiresAt: z.number().int().positive().max(2 ** 53),
});
export type RegistrationChallenge = z.infer<typeof RegistrationChallenge>;

export const RegisterClientBody = z
  .object({
    address: Address,
    /** The challenge's nonce and expiry, exactly as the coordinator issued them. */
    nonce: Hash32,
    expiresAt: z.number().int().positive().max(2 ** 53),
    /** EIP-712 signature of Registration{task, client, nonce, expiresAt} by the address: proves the caller holds the key. */
    signature: Signature,
  })
  .strict();

/** The job payload: metadata and signature only; the delta sits in its own Redis key. */
export const PublicUpdateJob = z
  .object({
    task: TaskIdNumber,
    round: RoundNoNumber,
    client: Address,
    baseHash: Hash32,
    updateHash: Hash32,
    numSamples: z.number().int().min(0).max(1e12),
    signature: Signature,
    via: z.enum(['queue', 'http']),
    submittedAt: z.number().int().nonnegative(),
  })
  .strict();
export type PublicUpdateJob = z.infer<typeof PublicUpdateJob>;

/**
 * A private task's job: a nullifier and a membership proof stand in for the address and signature.
 * Its blob key is named by the nullifier (blobKey(prefix, nullifier, updateHash)).
 */
export const PrivateUpdateJob = z
  .object({
    task: TaskIdNumber,
    round: RoundNoNumber,
    nullifier: Nullifier,
    baseHash: Hash32,
    updateHash: Hash32,
    numSamples: z.number().int().min(0).max(1e12),
    proof: PackedProof,
    via: z.enum(['queue', 'http']),
    submittedAt: z.number().int().nonnegative(),
  })
  .strict();
export type PrivateUpdateJob = z.infer<typeof PrivateUpdateJob>;

export const UpdateJob = z.union([PublicUpdateJob, PrivateUpdateJob]);
export type UpdateJob = z.infer<typeof UpdateJob>;

/**
 * The schema a job payload is judged by: private when it names a nullifier or carries a proof,
 * public otherwise. Choosing first gives one schema's precise errors instead of a union's
 * "matched neither".
 */
export function updateJobSchemaFor(data: unknown): typeof PublicUpdateJob | typeof PrivateUpdateJob {
  return data !== null && typeof data === 'object' && ('nullifier' in data || 'proof' in data) ? PrivateUpdateJob : PublicUpdateJob;
}

/** Who sent a job: the address of a public update, the nullifier of a private one. */
export function jobSender(job: UpdateJob): `0x${string}` {
  return 'nullifier' in job ? job.nullifier : job.client;
}

/** Metadata of an HTTP upload, sent in headers next to the raw delta body. */
export const HttpUpdateHeaders = z.object({
  'x-fl-client': Address,
  'x-fl-base-hash': Hash32,
  'x-fl-update-hash': Hash32,
  'x-fl-num-samples': z.coerce.number().int().min(0).max(1e12),
  'x-fl-signature': Signature,
});

/** Metadata of a private task's HTTP upload: nullifier and proof (8 comma-separated decimals). */
export const HttpPrivateUpdateHeaders = z.object({
  'x-fl-nullifier': Nullifier,
  'x-fl-base-hash': Hash32,
  'x-fl-update-hash': Hash32,
  'x-fl-num-samples': z.coerce.number().int().min(0).max(1e12),
  'x-fl-proof': z.string().max(800).transform((v) => v.split(',')).pipe(PackedProof),
});

/** Admits identity commitments to a private task's members tree, in this order. */
export const AdmitMembersBody = z
  .object({ commitments: z.array(FieldElement).min(1).max(10_000) })
  .strict();

/** A private task's members: every admitted commitment in admission order, and the current root. */
export const MembersList = z.object({
  task: TaskId,
  count: z.number().int().min(0),
  /** Root of the tree of all `count` members; null while there are none. */
  root: Hash32.nullable(),
  commitments: z.array(FieldElement),
});
export type MembersList = z.infer<typeof MembersList>;

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });
