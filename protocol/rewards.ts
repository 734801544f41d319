import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { ProtocolError } from './errors.ts';
import type { Hex32 } from './hash.ts';

/**
 * Contribution scores and pro-rata rewards: pure integer maths plus the Merkle tree that the
 * reward distributor checks claims against. The coordinator uses it to commit a round and the
 * auditor re-runs exactly the same code on the round's manifest (protocol/manifest.ts) to check
 * every score, every amount, their sum and the rewards root.
 *
 * All amounts are bigints in token base units (never JS numbers, which lose precision past 2^53).
 */

/** The largest amount a uint256 leaf (and the Solidity distributor) can hold. */
export const UINT256_MAX = (1n << 256n) - 1n;

// ---------------------------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------------------------

/** What a score rule sees of one manifest entry (a ManifestEntry minus its score and reward). */
export interface ScoreInput {
  status: 'accepted' | 'rejected';
  /** Lowercase address; null only for a rejection that could not name its sender. */
  client: string | null;
  updateHash: string | null;
  numSamples: number;
}

/**
 * What a rule may read besides the entry: the manifest's contribution block (validation-gain
 * scores, protocol/scoring/contribution.ts), which the auditor recomputes from the store.
 */
export interface ScoreContext {
  contribution?: { aggregateLoss: number | null; entries: readonly { client: string; updateHash: string; copyOf: string | null; looLoss: number | null; gainStdError: number | null }[] };
}

/**
 * A contribution score: a non-negative integer. It must be a pure function of the entry and the
 * manifest's recorded context, so the auditor re-derives the same score from the manifest.
 */
export type ScoreRule = (entry: ScoreInput, ctx?: ScoreContext) => bigint;

/** Default rule: the sample count of an accepted update, 0 for a rejected one. */
export const acceptedSamples: ScoreRule = (e) => (e.status === 'accepted' ? BigInt(e.numSamples) : 0n);

export const DEFAULT_SCORE_RULE = 'accepted-samples';

/**
 * The validation-gain rule: an accepted update scores floor((gain - GAIN_CONFIDENCE_Z * se) * GAIN_UNIT)
 * of its entry in the contribution block (gain: leave-one-out loss minus the aggregate's loss; se:
 * its standard error over the validation samples; 0 for a copy or when that bound is not positive). The
 * block itself is what fl-audit --reaggregate recomputes from the validation set and the updates.
 */
export const VALIDATION_GAIN_RULE = 'validation-gain';
export const GAIN_UNIT = 1e9;
/** Standard errors taken off the gain before paying: a one-sided ~99.9 % lower bound. */
export const GAIN_CONFIDENCE_Z = 3;

export function gainScore(aggregateLoss: number | null, looLoss: number | null, gainStdError: number | null): bigint {
  if (aggregateLoss === null || looLoss === null || gainStdError === null) return 0n;
  const bound = looLoss - aggregateLoss - GAIN_CONFIDENCE_Z * gainStdError;
  return bound > 0 && Number.isFinite(bound) ? BigInt(Math.floor(bound * GAIN_UNIT)) : 0n;
}

export const validationGain: ScoreRule = (e, ctx) => {
  if (e.status !== 'accepted') return 0n;
  const c = ctx?.contribution;
  if (!c) throw new ProtocolError('BAD_SCORE', 'the validation-gain rule needs the manifest\'s contribution block');
  const entry = c.entries.find((x) => x.client === e.client);
  if (!entry || entry.updateHash !== e.updateHash) throw new ProtocolError('BAD_SCORE', `the contribution block has no entry for ${e.client}'s update ${e.updateHash}`);
  return entry.copyOf ? 0n : gainScore(c.aggregateLoss, entry.looLoss, entry.gainStdError);
};

/**
 * Score rules by the name a manifest records in `scoring.rule`. Frozen: a new rule is added here,
 * in code, so that coordinator and auditor (both importing this module) agree on what a name means.
 * Changing what an existing name computes would make old manifests fail their audit: add a new
 * name instead.
 */
export const SCORE_RULES: Readonly<Record<string, ScoreRule>> = Object.freeze({
  [DEFAULT_SCORE_RULE]: acceptedSamples,
  [VALIDATION_GAIN_RULE]: validationGain,
});

/** The rule registered under a name; throws ProtocolError UNKNOWN_SCORE_RULE otherwise. */
export function scoreRule(name: string, rules: Readonly<Record<string, ScoreRule>> = SCORE_RULES): ScoreRule {
  if (!Object.hasOwn(rules, name)) {
    throw new ProtocolError('UNKNOWN_SCORE_RULE', `unknown score rule '${name}' (known: ${Object.keys(rules).join(', ') || 'none'})`);
  }
  return rules[name] as ScoreRule;
}

/** Applies a rule to every entry, checking each score is an integer in [0, 2^256). */
export function scoreEntries(rule: ScoreRule, entries: readonly ScoreInput[], ctx: ScoreContext = {}): bigint[] {
  return entries.map((e, i) => {
    const s = rule(e, ctx);
    if (typeof s !== 'bigint' || s < 0n || s > UINT256_MAX) {
      throw new ProtocolError('BAD_SCORE', `entry ${i}: score ${String(s)} is not an integer in [0, 2^256)`);
    }
    return s;
  });
}

// ---------------------------------------------------------------------------------------------
// Pro-rata split
// ---------------------------------------------------------------------------------------------

/**
 * Splits `reward` base units pro rata to `scores` with exact integer arithmetic, by the
 * largest-remainder (Hamilton) method:
 *
 *   1. amount[i] = floor(reward * score[i] / total), remainder[i] = reward * score[i] mod total;
 *   2. the leftover units (reward - sum of the floors, always fewer than the number of scores)
 *      go one each to the entries with the largest remainders; equal remainders are broken by
 *      the lower index (so the caller's entry order is part of the result: use the manifest order).
 *
 * Guarantees: every amount is floor or floor + 1 of its exact share (so within 1 unit of
 * reward * score / total); an entry with score 0 gets 0; a larger score never gets less; the
 * amounts sum to exactly `reward`, unless every score is 0.
 *
 * All scores 0 (or no scores): nothing is allocated and every amount is 0. The round's reward is
 * then not paid out at all: the effective reward of the round is 0 (see effectiveReward), the
 * caller commits and funds 0, and the budget stays with the funder.
 *
 * Throws ProtocolError BAD_REWARD for a negative reward, BAD_SCORE for a negative score.
 */
export function splitProRata(reward: bigint, scores: readonly bigint[]): bigint[] {
  if (typeof reward !== 'bigint' || reward < 0n) throw new ProtocolError('BAD_REWARD', `reward ${String(reward)} must be a non-negative bigint`);
  let total = 0n;
  scores.forEach((s, i) => {
    if (typeof s !== 'bigint' || s < 0n) throw new ProtocolError('BAD_SCORE', `score ${i} (${String(s)}) must be a non-negative bigint`);
    total += s;
  });
  if (total === 0n || reward === 0n) return scores.map(() => 0n);

  const amounts: bigint[] = new Array<bigint>(scores.length);
  const remainders: bigint[] = new Array<bigint>(scores.length);
  let given = 0n;
  scores.forEach((s, i) => {
    const p = reward * s;
    const a = p / total; // bigint division truncates; p >= 0 so this is floor
    amounts[i] = a;
    remainders[i] = p % total;
    given += a;
  });
  // Sum of remainders = leftover * total and each remainder < total, so more than `leftover`
  // remainders are non-zero: the units never reach a zero-score entry.
  const leftover = Number(reward - given); // < scores.length
  if (leftover > 0) {
    const order = scores.map((_, i) => i).filter((i) => (remainders[i] as bigint) > 0n);
    order.sort((a, b) => {
      const ra = remainders[a] as bigint;
      const rb = remainders[b] as bigint;
      return ra > rb ? -1 : ra < rb ? 1 : a - b;
    });
    for (let k = 0; k < leftover; k++) {
      const i = order[k] as number;
      amounts[i] = (amounts[i] as bigint) + 1n;
    }
  }
  return amounts;
}

/** What a round actually pays: `reward` when some score is positive, 0 when all are 0 (or none). */
export function effectiveReward(reward: bigint, scores: readonly bigint[]): bigint {
  if (typeof reward !== 'bigint' || reward < 0n) throw new ProtocolError('BAD_REWARD', `reward ${String(reward)} must be a non-negative bigint`);
  return scores.some((s) => s > 0n) ? reward : 0n;
}

// ---------------------------------------------------------------------------------------------
// Rewards Merkle tree
// ---------------------------------------------------------------------------------------------

/**
 * Leaf = keccak256(bytes.concat(keccak256(abi.encode(uint256 index, address account, uint256 amount)))),
 * nodes = keccak256 of the sorted pair: OpenZeppelin's StandardMerkleTree, which MerkleProof.verify in
 * Solidity accepts as is. `index` is the leaf's position among the round's paid accounts (0, 1, 2, ...
 * in entry order): the distributor keys its claimed flags by it, keeping the flags of the first 64
 * leaves in a storage slot a claim writes anyway (contracts/src/RewardDistributor.sol).
 */
export const REWARD_LEAF_ENCODING: readonly ['uint256', 'address', 'uint256'] = Object.freeze(['uint256', 'address', 'uint256'] as const);

/**
 * Private tasks pay nullifiers, not addresses: leaves are (uint256 nullifier, uint256 amount), and
 * the account key of an entry is the nullifier as an 0x-prefixed 32-byte word. The distributor's
 * claimPrivate hashes exactly this leaf (a nullifier is spent once, so it needs no index).
 */
export const PRIVATE_REWARD_LEAF_ENCODING: readonly ['uint256', 'uint256'] = Object.freeze(['uint256', 'uint256'] as const);

/** The largest reward one round can allocate: the distributor keeps it in 96 bits. */
export const MAX_ROUND_REWARD = (1n << 96n) - 1n;

/** Who a rewards tree pays: wallet addresses (public tasks) or nullifiers (private tasks). */
export type RewardAccountKind = 'address' | 'nullifier';

/**
 * Root of a rewards tree with no leaves (every amount 0, or no entries): bytes32 zero. No keccak256
 * output is known to be zero, so no proof can reach this root: nothing is claimable, and a
 * distributor may skip the commit's funding (it is 0 anyway).
 */
export const EMPTY_REWARDS_ROOT: Hex32 = `0x${'0'.repeat(64)}`;

export interface RewardEntry {
  account: string;
  amount: bigint;
}

/**
 * A leaf as it sits in the tree, JSON-safe: public [index, lowercase address, amount] or private
 * [nullifier, amount], numbers in decimal.
 */
export type RewardLeaf = [index: string, account: string, amount: string] | [nullifier: string, amount: string];

/** StandardMerkleTree's dump format ("standard-v1"), loadable with StandardMerkleTree.load when non-empty. */
export interface RewardsTreeDump {
  format: 'standard-v1';
  leafEncoding: string[];
  tree: string[];
  values: { value: RewardLeaf; treeIndex: number }[];
}

export interface RewardClaim {
  /** The leaf's index (its position among the paid accounts), which a public claim names. */
  index: number;
  amount: bigint;
  /** Sibling hashes from the leaf up, as MerkleProof.verify takes them. */
  proof: Hex32[];
}

export interface RewardsTree {
  root: Hex32;
  /** Number of leaves (accounts with a non-zero amount). */
  size: number;
  /** The claim of an account (any case); null when it has no leaf (absent or amount 0). */
  proofFor(account: string): RewardClaim | null;
  /** The whole tree, JSON-safe, for publishing next to the manifest. */
  dump(): RewardsTreeDump;
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const WORD_RE = /^0x[0-9a-fA-F]{64}$/;

function normaliseAccount(account: string, kind: RewardAccountKind = 'address'): string {
  const re = kind === 'address' ? ADDRESS_RE : WORD_RE;
  if (typeof account !== 'string' || !re.test(account)) {
    throw new ProtocolError('BAD_ACCOUNT', `${String(account)} is not an 0x-prefixed ${kind === 'address' ? '20-byte address' : '32-byte nullifier'}`);
  }
  return account.toLowerCase();
}

/** The leaf encoding of a kind, and the leaf of (index, account key, amount). */
function leafOf(kind: RewardAccountKind): { encoding: string[]; value: (index: number, account: string, amount: bigint) => RewardLeaf } {
  return kind === 'address'
    ? { encoding: [...REWARD_LEAF_ENCODING], value: (i, a, amount) => [String(i), a, amount.toString()] }
    : { encoding: [...PRIVATE_REWARD_LEAF_ENCODING], value: (_i, a, amount) => [BigInt(a).toString(), amount.toString()] };
}

/**
 * Builds the rewards tree of a round. Zero amounts get no leaf; the same account twice (in any
 * letter case, even with a zero amount) is an error: sum an account's amounts before calling.
 * Leaf indices follow the order of `entries` (0 for the first paid account, and so on); the
 * library sorts the leaves by hash inside the tree. No leaves: root EMPTY_REWARDS_ROOT.
 */
export function rewardsTree(entries: readonly RewardEntry[], kind: RewardAccountKind = 'address'): RewardsTree {
  const leafKind = leafOf(kind);
  const seen = new Set<string>();
  const leaves: RewardLeaf[] = [];
  const amounts: bigint[] = [];
  const index = new Map<string, number>();
  for (const [i, e] of entries.entries()) {
    const account = normaliseAccount(e.account, kind);
    if (seen.has(account)) throw new ProtocolError('DUPLICATE_ACCOUNT', `entry ${i}: ${account} appears twice in the rewards`);
    seen.add(account);
    if (typeof e.amount !== 'bigint' || e.amount < 0n || e.amount > UINT256_MAX) {
      throw new ProtocolError('BAD_REWARD', `entry ${i}: amount ${String(e.amount)} is not an integer in [0, 2^256)`);
    }
    if (e.amount === 0n) continue;
    index.set(account, leaves.length);
    leaves.push(leafKind.value(leaves.length, account, e.amount));
    amounts.push(e.amount);
  }
  const encoding = leafKind.encoding;
  if (leaves.length === 0) {
    return {
      root: EMPTY_REWARDS_ROOT,
      size: 0,
      proofFor(account) {
        normaliseAccount(account, kind); // a malformed account is still an error
        return null;
      },
      dump: () => ({ format: 'standard-v1', leafEncoding: encoding, tree: [], values: [] }),
    };
  }
  const tree = StandardMerkleTree.of<RewardLeaf>(leaves, encoding);
  return {
    root: tree.root as Hex32,
    size: leaves.length,
    proofFor(account) {
      const i = index.get(normaliseAccount(account, kind));
      if (i === undefined) return null;
      return { index: i, amount: amounts[i] as bigint, proof: tree.getProof(i) as Hex32[] };
    },
    dump: () => tree.dump() as RewardsTreeDump,
  };
}

/**
 * The Solidity leaf of a claim: keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))
 * for a public leaf, of abi.encode(nullifier, amount) for a private one (whose index is ignored).
 */
export function rewardLeafHash(index: number, account: string, amount: bigint, kind: RewardAccountKind = 'address'): Hex32 {
  // A one-leaf tree's root is its leaf hash; StandardMerkleTree exposes no standalone leaf hasher.
  const { encoding, value } = leafOf(kind);
  return StandardMerkleTree.of<RewardLeaf>([value(index, normaliseAccount(account, kind), amount)], encoding).root as Hex32;
}

/** Checks a claim against a root exactly as the distributor contract will (a private leaf ignores `index`). Never throws. */
export function verifyRewardProof(root: string, index: number, account: string, amount: bigint, proof: readonly string[], kind: RewardAccountKind = 'address'): boolean {
  try {
    if (root.toLowerCase() === EMPTY_REWARDS_ROOT || amount <= 0n || amount > UINT256_MAX) return false;
    if (!Number.isSafeInteger(index) || index < 0) return false;
    const { encoding, value } = leafOf(kind);
    return StandardMerkleTree.verify<RewardLeaf>(root, encoding, value(index, normaliseAccount(account, kind), amount), [...proof]);
  } catch {
    return false;
  }
}
