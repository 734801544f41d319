import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';
import { ProtocolError } from './errors.ts';
import { contentHash, type Hex32 } from './hash.ts';
import {
  DEFAULT_SCORE_RULE,
  EMPTY_REWARDS_ROOT,
  rewardsTree,
  SCORE_RULES,
  VALIDATION_GAIN_RULE,
  scoreEntries,
  scoreRule,
  splitProRata,
  UINT256_MAX,
  type RewardsTree,
  type ScoreRule,
} from './rewards.ts';
import { recordedEpsilon } from './dp-accountant.ts';
import { Contributor, Hash32, StrategyConfig } from './schemas.ts';
import { SecureAggConfig } from './secagg/config.ts';
import { secureRoundsEpsilon } from './secagg/dp.ts';
import { PackedProof } from './zk/packed-proof.ts';
import { ContributionBlock } from './scoring/contribution.ts';
import { WireCodec } from './wire-codec.ts';
import { AsyncConfig } from './async-rounds.ts';

/**
 * The contributions manifest of a round: who contributed what, how each contribution was scored
 * and what each contributor is paid. It is stored content-addressed (kind 'manifests'); its
 * keccak256 (manifestHash) and its rewardsRoot are what the chain commits.
 *
 * Everything an auditor needs to re-check the payout is in the document itself:
 *   - scoring.rule names the rule (SCORE_RULES) that turns each entry into its score;
 *   - reward is the round's budget; splitProRata(reward, scores in entry order) must give each
 *     entry's reward, and allocated must be their sum (reward, or 0 when every score is 0);
 *   - rewardsRoot must be the root of the rewards tree of the entries' rewards (manifestRewardsTree).
 * verifyManifest() does exactly these checks. The entries themselves (which updates were accepted,
 * their sample counts) are bound to the chain by the manifest hash; that accepted update hashes
 * re-aggregate to checkpointHash is the re-aggregation audit's job, not this module's.
 *
 * Byte form: canonical JSON (sorted keys, no whitespace) in UTF-8. Integers that may exceed 2^53
 * (reward, allocated, score, reward of an entry) are canonical decimal strings: digits only, no
 * sign, no leading zeros, at most 2^256 - 1. decodeManifest accepts only that exact byte form, so
 * a manifest has one encoding and contentHash(bytes) == manifestHash(decodeManifest(bytes)).
 *
 * Entry order (a total order on distinct entries; entries equal under it are byte-identical, so
 * the order of the bytes never depends on input order):
 *   1. accepted entries first, by client address ascending (lowercase hex; one per client);
 *   2. then rejected entries, by (client, updateHash, reason.code, reason.text, numSamples)
 *      ascending, where a null client or updateHash sorts before any value and strings compare by
 *      UTF-16 code units (JavaScript `<`; the same as byte order for ASCII).
 *
 * Private tasks (zero-knowledge mode) add a `private` block (the members root the round's proofs
 * are checked against, and the number of members behind it). Their `client` is the update's
 * nullifier as an 0x-prefixed 32-byte word, never an address; every accepted entry carries its
 * membership `proof` (protocol/zk), so anyone can re-verify it; and the rewards tree pays
 * (nullifier, amount) leaves. Public manifests have neither field, so their bytes are unchanged.
 */

/**
 * Format 2: the rewards tree's public leaves are (index, address, amount), index counting the paid
 * clients in entry order (format 1 had (address, amount) leaves and no index).
 */
export const MANIFEST_FORMAT = 2;

/** A canonical decimal string of an integer in [0, 2^256). */
export const DecimalU256 = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, { message: 'a canonical decimal integer string (digits only, no leading zeros)', abort: true })
  .refine((s) => BigInt(s) <= UINT256_MAX, 'at most 2^256 - 1');

const ManifestNumSamples = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const AcceptedEntry = z.strictObject({
  status: z.literal('accepted'),
  client: Contributor,
  updateHash: Hash32,
  numSamples: ManifestNumSamples,
  reason: z.null(),
  score: DecimalU256,
  reward: DecimalU256,
  /** Private tasks only: the Groth16 membership proof the update was accepted with. */
  proof: PackedProof.optional(),
});

export const RejectedEntry = z.strictObject({
  status: z.literal('rejected'),
  /** null when the rejected job did not name a valid sender. */
  client: Contributor.nullable(),
  /** null when the rejected job did not carry a valid update hash. */
  updateHash: Hash32.nullable(),
  /** A rejection record holds no sample count: 0 unless the coordinator passed one. */
  numSamples: ManifestNumSamples,
  reason: z.strictObject({ code: z.string().min(1), text: z.string() }),
  score: DecimalU256,
  reward: DecimalU256,
});

export const SecureManifestBlock = z.strictObject({
  config: SecureAggConfig,
  /** The fixed-point scale (protocol/secagg/config.ts secureScale of config). */
  scale: z.number().positive(),
  threshold: z.number().int().min(2),
  transcriptHash: Hash32,
  /** Clients that dealt shares but never uploaded: their pairwise masks were removed from the sum. */
  dropped: z.array(Contributor),
  /** Parameters of the model (the DP accountant's dimension). */
  dim: z.number().int().min(1),
});
export type SecureManifestBlock = z.infer<typeof SecureManifestBlock>;

export const ManifestEntry = z.discriminatedUnion('status', [AcceptedEntry, RejectedEntry]);
export type ManifestEntry = z.infer<typeof ManifestEntry>;

/** An async buffer's settings and arrival order (see RoundManifest.async). */
export const AsyncManifestBlock = z.strictObject({
  ...AsyncConfig.shape,
  arrivals: z.array(z.strictObject({ updateHash: z.string().regex(/^0x[0-9a-f]{64}$/), trainedFor: z.number().int().min(1), staleness: z.number().int().min(0) })).max(100_000),
});
export type AsyncManifestBlock = z.infer<typeof AsyncManifestBlock>;

export const RoundManifest = z
  .strictObject({
    format: z.literal(MANIFEST_FORMAT),
    task: z.number().int().min(1).max(2 ** 40),
    round: z.number().int().min(1).max(2 ** 40),
    /** The checkpoint the round trained on. */
    baseHash: Hash32,
    /** The checkpoint the round produced. */
    checkpointHash: Hash32,
    strategy: StrategyConfig,
    scoring: z.strictObject({ rule: z.string().min(1) }),
    /** The round's reward budget, in token base units. */
    reward: DecimalU256,
    /** Sum of the entries' rewards: `reward`, or 0 when every score is 0. What the round pays and funds. */
    allocated: DecimalU256,
    /** Root of the rewards tree over (client, sum of that client's entry rewards), non-zero amounts only. */
    rewardsRoot: Hash32,
    entries: z.array(ManifestEntry),
    /** Present exactly for private tasks: what the round's membership proofs were checked against. */
    private: z.strictObject({ membersRoot: Hash32, members: z.number().int().min(1) }).optional(),
    /**
     * Present exactly when the strategy adds differential-privacy noise: the privacy spent by the
     * task up to and including this round (protocol/dp-accountant.ts), assuming every round so far
     * ran the same mechanism. Recomputed by verifyManifest.
     */
    privacy: z
      .strictObject({ accountant: z.enum(['gaussian-rdp', 'skellam-rdp']), rounds: z.number().int().min(1), delta: z.number().gt(0).lt(1), epsilon: z.number().nonnegative() })
      .optional(),
    /**
     * Present exactly for secure-aggregation rounds: the encoding the sum was decoded with and the
     * round's public protocol transcript (protocol/secagg/transcript.ts, kind 'transcripts'). The
     * accepted entries' updateHash name masked uploads.
     */
    secure: SecureManifestBlock.optional(),
    /**
     * Present exactly under the validation-gain rule: the copy checks and leave-one-out losses the
     * scores derive from (protocol/scoring/contribution.ts); fl-audit --reaggregate recomputes it.
     */
    contribution: ContributionBlock.optional(),
    /**
     * Present exactly when the task's updates travel in a codec other than float32
     * (protocol/wire-codec.ts): how every accepted update's bytes decode, for fl-audit --reaggregate.
     */
    wire: WireCodec.optional(),
    /**
     * Present exactly for a buffer of an async (FedBuff) task: the task's buffer settings and every
     * accepted update in arrival order, the order the strategy folded them in, with the round each
     * was trained for and its staleness (protocol/async-rounds.ts has the weighting rule).
     */
    async: AsyncManifestBlock.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.async) {
      const accepted = m.entries.filter((e) => e.status === 'accepted').map((e) => e.updateHash).sort();
      const arrived = m.async.arrivals.map((a) => a.updateHash).sort();
      if (accepted.length !== arrived.length || accepted.some((h, i) => h !== arrived[i])) ctx.addIssue({ code: 'custom', path: ['async', 'arrivals'], message: 'the arrival order lists exactly the accepted updates' });
      m.async.arrivals.forEach((a, i) => {
        if (a.trainedFor + a.staleness !== m.round) ctx.addIssue({ code: 'custom', path: ['async', 'arrivals', i], message: `trained for round ${a.trainedFor} with staleness ${a.staleness} does not land in round ${m.round}` });
        if (a.staleness > m.async!.maxStaleness) ctx.addIssue({ code: 'custom', path: ['async', 'arrivals', i], message: `staleness ${a.staleness} exceeds maxStaleness ${m.async!.maxStaleness}` });
      });
    }
    if (m.wire?.codec === 'float32') ctx.addIssue({ code: 'custom', path: ['wire'], message: 'float32 updates are written without a wire block' });
    const gainRule = m.scoring.rule === VALIDATION_GAIN_RULE;
    if (gainRule !== (m.contribution !== undefined)) ctx.addIssue({ code: 'custom', path: ['contribution'], message: 'a contribution block goes with the validation-gain rule, and only with it' });
    if (m.contribution) {
      const accepted = m.entries.filter((e) => e.status === 'accepted').map((e) => `${e.client}/${e.updateHash}`);
      const scored = m.contribution.entries.map((e) => `${e.client}/${e.updateHash}`);
      if (accepted.length !== scored.length || accepted.some((h, i) => h !== scored[i])) ctx.addIssue({ code: 'custom', path: ['contribution', 'entries'], message: 'the contribution block scores exactly the accepted entries, in manifest order' });
    }
    m.entries.forEach((e, i) => {
      const clientOk = e.client === null || (m.private ? e.client.length === 66 : e.client.length === 42);
      if (!clientOk) ctx.addIssue({ code: 'custom', path: ['entries', i, 'client'], message: m.private ? 'a private manifest names nullifiers (32-byte words), not addresses' : 'a public manifest names addresses' });
      const proofOk = e.status === 'accepted' && m.private ? e.proof !== undefined : e.status !== 'accepted' || e.proof === undefined;
      if (!proofOk) ctx.addIssue({ code: 'custom', path: ['entries', i, 'proof'], message: m.private ? 'an accepted private entry carries its membership proof' : 'only private manifests carry proofs' });
    });
    for (let i = 1; i < m.entries.length; i++) {
      const c = compareEntries(m.entries[i - 1] as ManifestEntry, m.entries[i] as ManifestEntry);
      if (c > 0) ctx.addIssue({ code: 'custom', path: ['entries', i], message: 'entries are not in manifest order (accepted by client, then rejected by client, updateHash, code, text, numSamples)' });
      else if (c === 0 && m.entries[i]?.status === 'accepted') ctx.addIssue({ code: 'custom', path: ['entries', i], message: `client ${m.entries[i]?.client} has two accepted entries` });
    }
  });
export type RoundManifest = z.infer<typeof RoundManifest>;

function cmpNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** The manifest's entry order (see the module comment); < 0, 0 or > 0 like a sort comparator. */
export function compareEntries(a: ManifestEntry | EntryCore, b: ManifestEntry | EntryCore): number {
  if (a.status !== b.status) return a.status === 'accepted' ? -1 : 1;
  if (a.status === 'accepted') return cmpNullable(a.client, b.client);
  return (
    cmpNullable(a.client, b.client) ||
    cmpNullable(a.updateHash, b.updateHash) ||
    cmpNullable(a.reason?.code ?? null, b.reason?.code ?? null) ||
    cmpNullable(a.reason?.text ?? null, b.reason?.text ?? null) ||
    a.numSamples - b.numSamples
  );
}

/** An entry before scoring (what compareEntries orders and a ScoreRule sees). */
export interface EntryCore {
  status: 'accepted' | 'rejected';
  client: string | null;
  updateHash: string | null;
  numSamples: number;
  reason: { code: string; text: string } | null;
  proof?: PackedProof;
}

/** What the coordinator knows when it closes a round; AcceptedUpdate and Rejection fit as they are. */
export interface ManifestInput {
  task: number;
  round: number;
  baseHash: string;
  checkpointHash: string;
  strategy: z.input<typeof StrategyConfig>;
  /** Name of a rule in SCORE_RULES (default 'accepted-samples'). */
  scoringRule?: string;
  /** The round's reward budget in token base units. */
  reward: bigint;
  accepted: readonly { client: string; updateHash: string; numSamples: number; proof?: PackedProof }[];
  /** Rejection records (client and updateHash may be 'unknown'); numSamples is optional (0). */
  rejected: readonly { client: string; updateHash: string; code: string; reason: string; numSamples?: number }[];
  /** Private tasks: the members root and count the round was opened with. */
  private?: { membersRoot: string; members: number };
  /** Secure rounds: the block recorded as is (SecureManifestBlock). */
  secure?: SecureManifestBlock;
  /** The validation-gain rule: the block its scores come from (protocol/scoring/contribution.ts). */
  contribution?: ContributionBlock;
  /** The task's update codec (recorded unless float32). */
  wire?: WireCodec;
  /** Async buffers: settings and arrival order (AsyncManifestBlock). */
  async?: AsyncManifestBlock;
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const HASH_RE = /^0x[0-9a-fA-F]{64}$/;

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * The manifest's privacy record: for a strategy that adds DP noise (Gaussian, at the coordinator),
 * or a secure round whose clients add Skellam noise (protocol/secagg/dp.ts); none otherwise.
 */
function privacyOf(
  strategy: z.input<typeof StrategyConfig>,
  round: number,
  secure?: { config: SecureAggConfig; scale: number },
  dim?: number,
): { privacy?: { accountant: 'gaussian-rdp' | 'skellam-rdp'; rounds: number; delta: number; epsilon: number } } {
  if (secure?.config.dp && dim !== undefined) {
    const epsilon = secureRoundsEpsilon(secure.config, secure.scale, dim, round);
    return epsilon === null ? {} : { privacy: { accountant: 'skellam-rdp', rounds: round, delta: secure.config.dp.delta, epsilon } };
  }
  if (strategy.name !== 'fedavg' || !strategy.dp) return {};
  const { noiseMultiplier, delta } = strategy.dp;
  return { privacy: { accountant: 'gaussian-rdp', rounds: round, delta, epsilon: recordedEpsilon(round, noiseMultiplier, delta) } };
}

/**
 * Builds the manifest of a round: normalises and orders the entries, scores them with the named
 * rule, splits the reward, and computes allocated and rewardsRoot. Deterministic: the same
 * accepted/rejected sets in any order (and any address letter case) give the same manifest bytes.
 * Throws ProtocolError: BAD_MANIFEST (malformed input, two accepted updates from one client, a
 * positive score for an entry without a client), UNKNOWN_SCORE_RULE, BAD_SCORE, BAD_REWARD.
 * `rules` exists for tests and experiments; production manifests use the frozen SCORE_RULES.
 */
export function buildManifest(input: ManifestInput, rules: Readonly<Record<string, ScoreRule>> = SCORE_RULES): RoundManifest {
  const ruleName = input.scoringRule ?? DEFAULT_SCORE_RULE;
  const rule = scoreRule(ruleName, rules);
  if (typeof input.reward !== 'bigint' || input.reward < 0n || input.reward > UINT256_MAX) {
    throw new ProtocolError('BAD_REWARD', `reward ${String(input.reward)} is not an integer in [0, 2^256)`);
  }
  const samples = (n: unknown, what: string): number => {
    const r = ManifestNumSamples.safeParse(n);
    if (!r.success) throw new ProtocolError('BAD_MANIFEST', `${what}: numSamples ${String(n)} is not a non-negative safe integer`);
    return r.data;
  };
  const core: EntryCore[] = [];
  // Private tasks name contributors by nullifier (a 32-byte word), public ones by address.
  const CLIENT_RE = input.private ? HASH_RE : ADDRESS_RE;
  for (const a of input.accepted) {
    if (!CLIENT_RE.test(a.client)) throw new ProtocolError('BAD_MANIFEST', `accepted update: client ${a.client} is not ${input.private ? 'a nullifier' : 'an address'}`);
    if (!HASH_RE.test(a.updateHash)) throw new ProtocolError('BAD_MANIFEST', `accepted update of ${a.client}: updateHash ${a.updateHash} is not a 32-byte hash`);
    core.push({ status: 'accepted', client: a.client.toLowerCase(), updateHash: a.updateHash.toLowerCase(), numSamples: samples(a.numSamples, `accepted update of ${a.client}`), reason: null, ...(input.private ? { proof: a.proof } : {}) });
  }
  for (const r of input.rejected) {
    core.push({
      status: 'rejected',
      client: CLIENT_RE.test(r.client) ? r.client.toLowerCase() : null,
      updateHash: HASH_RE.test(r.updateHash) ? r.updateHash.toLowerCase() : null,
      numSamples: samples(r.numSamples ?? 0, `rejected update of ${r.client}`),
      reason: { code: r.code, text: r.reason },
    });
  }
  core.sort(compareEntries);
  for (let i = 1; i < core.length; i++) {
    const e = core[i] as EntryCore;
    if (e.status === 'accepted' && compareEntries(core[i - 1] as EntryCore, e) === 0) {
      throw new ProtocolError('BAD_MANIFEST', `client ${e.client} has two accepted updates`);
    }
  }
  const scores = scoreEntries(rule, core, { contribution: input.contribution });
  scores.forEach((s, i) => {
    if (s > 0n && core[i]?.client === null) throw new ProtocolError('BAD_MANIFEST', `entry ${i} scores ${s} but names no client to pay`);
  });
  const amounts = splitProRata(input.reward, scores);
  const entries = core.map((e, i) => ({ ...e, score: (scores[i] as bigint).toString(), reward: (amounts[i] as bigint).toString() }));
  const draft = {
    format: MANIFEST_FORMAT,
    task: input.task,
    round: input.round,
    baseHash: input.baseHash,
    checkpointHash: input.checkpointHash,
    strategy: input.strategy,
    scoring: { rule: ruleName },
    reward: input.reward.toString(),
    allocated: amounts.reduce((a, b) => a + b, 0n).toString(),
    rewardsRoot: EMPTY_REWARDS_ROOT,
    entries,
    ...(input.private ? { private: { membersRoot: input.private.membersRoot.toLowerCase(), members: input.private.members } } : {}),
    ...privacyOf(input.strategy, input.round, input.secure, input.secure?.dim),
    ...(input.secure ? { secure: input.secure } : {}),
    ...(input.contribution ? { contribution: input.contribution } : {}),
    ...(input.wire && input.wire.codec !== 'float32' ? { wire: input.wire } : {}),
    ...(input.async ? { async: input.async } : {}),
  };
  draft.rewardsRoot = manifestRewardsTree(draft as RoundManifest).root;
  const r = RoundManifest.safeParse(draft);
  if (!r.success) throw new ProtocolError('BAD_MANIFEST', `invalid manifest: ${issuesText(r.error)}`);
  return r.data;
}

/**
 * The rewards tree of a manifest: one leaf per client with a non-zero total, the total being the
 * sum of that client's entries' rewards (a client may have one accepted and some rejected entries;
 * under 'accepted-samples' only the accepted one pays). Entries without a client must have reward 0.
 * Leaf indices follow the first entry of each paid client, so they are fixed by the entry order.
 * The coordinator serves claim proofs from it (proofFor); the auditor compares its root.
 */
export function manifestRewardsTree(m: Pick<RoundManifest, 'entries' | 'private'>): RewardsTree {
  const totals = new Map<string, bigint>();
  m.entries.forEach((e, i) => {
    const amount = BigInt(e.reward);
    if (e.client === null) {
      if (amount !== 0n) throw new ProtocolError('BAD_MANIFEST', `entry ${i} is paid ${amount} but names no client`);
      return;
    }
    totals.set(e.client, (totals.get(e.client) ?? 0n) + amount);
  });
  return rewardsTree([...totals].map(([account, amount]) => ({ account, amount })), m.private ? 'nullifier' : 'address');
}

/** The manifest's bytes: canonical JSON in UTF-8. Validates first (ProtocolError BAD_MANIFEST). */
export function encodeManifest(m: RoundManifest): Uint8Array {
  const r = RoundManifest.safeParse(m);
  if (!r.success) throw new ProtocolError('BAD_MANIFEST', `invalid manifest: ${issuesText(r.error)}`);
  return new TextEncoder().encode(canonicalJson(r.data));
}

/**
 * Parses manifest bytes, trusting nothing: UTF-8, JSON, the schema (including entry order), and
 * the canonical byte form (re-encoding must give the same bytes). Throws ProtocolError BAD_MANIFEST
 * with the reason. Structural only: verifyManifest checks the scores, rewards, sum and root.
 */
export function decodeManifest(bytes: Uint8Array): RoundManifest {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ProtocolError('BAD_MANIFEST', 'manifest is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError('BAD_MANIFEST', `manifest is not JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ProtocolError('BAD_MANIFEST', 'manifest is not a JSON object');
  const format = (json as { format?: unknown }).format;
  if (format !== MANIFEST_FORMAT) throw new ProtocolError('BAD_MANIFEST', `unsupported manifest format ${JSON.stringify(format) ?? 'undefined'} (expected ${MANIFEST_FORMAT})`);
  const r = RoundManifest.safeParse(json);
  if (!r.success) throw new ProtocolError('BAD_MANIFEST', `invalid manifest: ${issuesText(r.error)}`);
  const again = new TextEncoder().encode(canonicalJson(r.data));
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) {
    throw new ProtocolError('BAD_MANIFEST', 'manifest is not in canonical form (sorted keys, no whitespace, lowercase hex, every default spelled out)');
  }
  return r.data;
}

/** keccak256 of the manifest's canonical bytes: its content address and what the chain commits. */
export function manifestHash(m: RoundManifest): Promise<Hex32> {
  return contentHash(encodeManifest(m));
}

export interface ManifestProblem {
  code: 'MALFORMED' | 'UNKNOWN_SCORE_RULE' | 'BAD_SCORE' | 'SCORE_MISMATCH' | 'REWARD_MISMATCH' | 'ALLOCATED_MISMATCH' | 'UNPAYABLE_ENTRY' | 'ROOT_MISMATCH' | 'PRIVACY_MISMATCH';
  message: string;
  /** Index of the entry concerned, when there is one. */
  entry?: number;
}

/**
 * The auditor's re-derivation of a manifest (decodeManifest's output; anything that fails the
 * schema is reported as MALFORMED and not looked at further): re-applies
 * scoring.rule to every entry, re-splits `reward` over the scores in entry order, re-sums, and
 * rebuilds the rewards root. Returns every mismatch found; an empty list means consistent.
 * Comparing the manifest's hash and rewardsRoot with what the chain recorded is the caller's part.
 */
export function verifyManifest(m: RoundManifest, rules: Readonly<Record<string, ScoreRule>> = SCORE_RULES): ManifestProblem[] {
  const parsed = RoundManifest.safeParse(m);
  if (!parsed.success) return [{ code: 'MALFORMED', message: `invalid manifest: ${issuesText(parsed.error)}` }];
  const problems: ManifestProblem[] = [];
  const privacy = privacyOf(m.strategy, m.round, m.secure, m.secure?.dim).privacy;
  if (JSON.stringify(privacy) !== JSON.stringify(m.privacy)) {
    problems.push({ code: 'PRIVACY_MISMATCH', message: `privacy ${JSON.stringify(m.privacy ?? null)}, the strategy and round give ${JSON.stringify(privacy ?? null)}` });
  }
  let rule: ScoreRule;
  try {
    rule = scoreRule(m.scoring.rule, rules);
  } catch (e) {
    return [{ code: 'UNKNOWN_SCORE_RULE', message: (e as Error).message }];
  }
  let scores: bigint[];
  try {
    scores = scoreEntries(rule, m.entries, { contribution: m.contribution });
  } catch (e) {
    return [{ code: 'BAD_SCORE', message: (e as Error).message }];
  }
  const amounts = splitProRata(BigInt(m.reward), scores);
  let sum = 0n;
  m.entries.forEach((e, i) => {
    const s = scores[i] as bigint;
    const a = amounts[i] as bigint;
    if (BigInt(e.score) !== s) problems.push({ code: 'SCORE_MISMATCH', entry: i, message: `entry ${i}: score ${e.score}, rule '${m.scoring.rule}' gives ${s}` });
    if (BigInt(e.reward) !== a) problems.push({ code: 'REWARD_MISMATCH', entry: i, message: `entry ${i}: reward ${e.reward}, the pro-rata split gives ${a}` });
    if (e.client === null && BigInt(e.reward) !== 0n) problems.push({ code: 'UNPAYABLE_ENTRY', entry: i, message: `entry ${i}: reward ${e.reward} but no client` });
    sum += BigInt(e.reward);
  });
  if (BigInt(m.allocated) !== sum) problems.push({ code: 'ALLOCATED_MISMATCH', message: `allocated ${m.allocated}, the entries' rewards sum to ${sum}` });
  if (!problems.some((p) => p.code === 'UNPAYABLE_ENTRY')) {
    try {
      const root = manifestRewardsTree(m).root;
      if (root !== m.rewardsRoot) problems.push({ code: 'ROOT_MISMATCH', message: `rewardsRoot ${m.rewardsRoot}, the entries' rewards give ${root}` });
    } catch (e) {
      problems.push({ code: 'ROOT_MISMATCH', message: `the entries' rewards give no valid tree: ${(e as Error).message}` });
    }
  }
  return problems;
}
