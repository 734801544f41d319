import { isCallException, isError, ZeroAddress, type ContractRunner, type ContractTransactionResponse, type Provider, type Signer } from 'ethers';
import { attach, type RewardDistributor } from '../contracts/artifacts.ts';
import { rpcProvider } from '../contracts/provider.ts';
import { manifestRewardsTree, verifyRewardProof, type RewardAccountKind, type RewardsTree, type RoundManifest } from '../protocol/index.ts';
import { nullifierOf, proveClaim, toBytes32, type Identity } from '../protocol/zk/index.ts';
import type { ChainInfoReply, CoordinatorApi } from './coordinator-api.ts';

/**
 * A data owner's rewards: what each committed round of a task owes an account, and claiming it from
 * the RewardDistributor. Nothing is taken on trust: every manifest is re-hashed and decoded, its
 * rewards tree is rebuilt locally and its root must equal both the round's rewardsRoot as the
 * coordinator reports it and the root the distributor holds on chain; the proof is checked locally
 * before it is ever sent. The chain (RPC URL, distributor address) comes from the coordinator's
 * GET /v1/chain unless the caller passes its own RPC URL; the registry must name the distributor.
 *
 * Private tasks (zero-knowledge mode) pay nullifiers, not addresses: a member's entitlement in round
 * r is the leaf of nullifierOf(secret, task, r) in the round's (nullifier, amount) tree, and it is
 * claimed with distributor.claimPrivate and a Groth16 proof of the secret that names the recipient
 * (listPrivateRewards, claimPrivateRewards). Any funded account may send that transaction; only the
 * recipient the proof binds is paid, once per nullifier. The same checks run for both kinds.
 */

/** One round in which the account is owed tokens. */
export interface RewardLine {
  round: number;
  /** The leaf's index in the round's rewards tree, which a public claim names (the distributor's claimed flag). */
  index: number;
  /** Token base units. */
  amount: bigint;
  /** The distributor's isClaimed for (task, round, index); for a private line, isNullifierSpent. */
  claimed: boolean;
  /** StandardMerkleTree proof of (index, account, amount) (private: (nullifier, amount)) in the round's rewards tree. */
  proof: string[];
  /** Not claimed yet, and the round still holds enough unclaimed reward on chain to pay it. */
  claimable: boolean;
}

/** One round of a private task in which the member's nullifier is owed tokens. */
export interface PrivateRewardLine extends RewardLine {
  /** nullifierOf(secret, task, round) as an 0x-prefixed 32-byte word: the leaf's key. */
  nullifier: `0x${string}`;
}

export interface ClaimResult {
  round: number;
  amount: bigint;
  txHash: string;
}

export interface PrivateClaimResult extends ClaimResult {
  nullifier: `0x${string}`;
  /** The account paid (lowercase). */
  recipient: string;
}

export type RewardsErrorCode =
  | 'CHAIN_UNAVAILABLE'
  | 'CHAIN_MISMATCH'
  | 'MANIFEST_MISMATCH'
  | 'ROOT_MISMATCH'
  | 'BAD_PROOF'
  | 'NOT_ENTITLED'
  | 'ALREADY_CLAIMED'
  | 'INVALID_PROOF'
  | 'UNKNOWN_ROUND'
  | 'OVER_CLAIM'
  | 'ZERO_AMOUNT'
  | 'NO_GAS'
  | 'REVERTED'
  /** A public listing or claim on a private task, or the other way round. */
  | 'WRONG_MODE'
  /** The distributor refused the zero-knowledge claim proof (DistributorInvalidZkProof). */
  | 'INVALID_ZK_PROOF'
  /** A private claim to the zero address (DistributorZeroRecipient). */
  | 'BAD_RECIPIENT';

/**
 * Listing or claiming failed because the chain refused (a revert, by its custom error name), the
 * chain could not be used, or the coordinator's data disagrees with itself or with the chain.
 */
export class RewardsError extends Error {
  constructor(
    readonly code: RewardsErrorCode,
    message: string,
    /** The distributor's custom error name, for reverts. */
    readonly revertName?: string,
  ) {
    super(message);
    this.name = 'RewardsError';
  }
}

export interface ListRewardsOptions {
  api: CoordinatorApi;
  task: number;
  /** The data owner's address (any letter case). */
  account: string;
  /** Read the chain through this provider instead of one made from the RPC URL. */
  provider?: Provider;
  /** RPC URL to use instead of the one the coordinator publishes (ignored when provider is given). */
  rpcUrl?: string;
}

export interface ListPrivateRewardsOptions extends Omit<ListRewardsOptions, 'account'> {
  /** The member's identity: its secret gives the round's nullifiers (and never leaves this process). */
  identity: Identity;
}

export interface ClaimRewardsOptions {
  api: CoordinatorApi;
  task: number;
  /** The claiming account; connected to a provider made from the RPC URL when it has none. */
  signer: Signer;
  /** Claim only these rounds (each must have an unclaimed entitlement); default: every unclaimed one. */
  rounds?: readonly number[];
  /** RPC URL to use instead of the one the coordinator publishes (ignored when the signer has a provider). */
  rpcUrl?: string;
  /** Called after each claim is mined, before the next one is sent. */
  onClaimed?: (c: ClaimResult) => void;
}

export interface ClaimPrivateRewardsOptions extends Omit<ClaimRewardsOptions, 'onClaimed'> {
  /** The member's identity: proves each claim (the secret never leaves this process). */
  identity: Identity;
  /**
   * The address paid: what the proof binds. `signer` only sends the transactions and pays their gas
   * (it is visible on chain; a relayer, or a fresh funded account, keeps it unlinked to the member).
   * A function is called once, only when there is something to claim, before the first claim is
   * sent (so a fresh address is made, and its key saved, only when it will be paid).
   */
  recipient: string | (() => string | Promise<string>);
  onClaimed?: (c: PrivateClaimResult) => void;
}

interface ChainHandle {
  info: ChainInfoReply;
  provider: Provider;
  distributor: RewardDistributor;
  close(): void;
}

const cause = (e: unknown): string => {
  if (isError(e, 'CALL_EXCEPTION') && e.revert) return e.revert.name;
  const m = e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : String(e);
  return m.length > 300 ? `${m.slice(0, 300)}…` : m;
};

/**
 * Opens the chain the coordinator commits to and checks it is the one it says: same chain id, a
 * registry there whose distributor is the published one.
 */
async function openChain(api: CoordinatorApi, provider: Provider | undefined, rpcUrl: string | undefined): Promise<ChainHandle> {
  const info = await api.chainInfo();
  const url = rpcUrl ?? info.rpcUrl;
  const own = provider ? undefined : rpcProvider(url);
  const p = provider ?? (own as Provider);
  const where = provider ? 'the given provider' : url;
  try {
    let chainId: bigint;
    try {
      chainId = (await p.getNetwork()).chainId;
    } catch (e) {
      throw new RewardsError('CHAIN_UNAVAILABLE', `RPC ${where} cannot be used: ${cause(e)}`);
    }
    if (chainId !== BigInt(info.chainId)) throw new RewardsError('CHAIN_MISMATCH', `RPC ${where} serves chain ${chainId}, the coordinator commits to chain ${info.chainId}`);
    const registry = attach('CheckpointRegistry', info.registry, p);
    let named: string;
    try {
      named = (await registry.distributor()).toLowerCase();
    } catch (e) {
      throw new RewardsError('CHAIN_MISMATCH', `no usable CheckpointRegistry at ${info.registry} on chain ${info.chainId}: ${cause(e)}`);
    }
    if (named !== info.distributor) throw new RewardsError('CHAIN_MISMATCH', `registry ${info.registry} names distributor ${named}, the coordinator published ${info.distributor}`);
    return { info, provider: p, distributor: attach('RewardDistributor', info.distributor, p), close: () => own?.destroy() };
  } catch (e) {
    own?.destroy();
    throw e;
  }
}

/** A chain read; an RPC failure becomes CHAIN_UNAVAILABLE. */
async function read<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new RewardsError('CHAIN_UNAVAILABLE', `reading ${what} from the chain failed: ${cause(e)}`);
  }
}

/** A committed round whose rewards tree was rebuilt from its manifest and agrees with the chain. */
interface CheckedRound {
  round: number;
  tree: RewardsTree;
  /** The round's reward and what has been claimed of it, on chain. */
  reward: bigint;
  claimedSoFar: bigint;
}

/**
 * Every committed round of the task, in order, with its manifest re-hashed and decoded and its
 * rewards tree rebuilt; the tree's root must equal the manifest's, the coordinator's and the
 * chain's. `kind` is what the caller looks up: addresses in a public task, nullifiers in a private one.
 */
async function* checkedRounds(chain: ChainHandle, api: CoordinatorApi, task: number, kind: RewardAccountKind): AsyncGenerator<CheckedRound> {
  const t = await api.getTask(task);
  const wantPrivate = kind === 'nullifier';
  if ((t.privacy === 'private') !== wantPrivate) {
    throw new RewardsError('WRONG_MODE', t.privacy === 'private' ? `task ${task} is private: its rewards are paid to nullifiers, claimed with the member identity` : `task ${task} is public: its rewards are paid to addresses, not to member identities`);
  }
  for (let round = 1; round <= t.lastRound; round++) {
    const r = await api.getRound(task, round);
    if (r.state !== 'committed') continue;
    if (r.task !== task || r.round !== round) throw new RewardsError('MANIFEST_MISMATCH', `asked for round ${round} of task ${task}, the coordinator answered round ${r.round} of task ${r.task}`);
    if (!r.manifestHash || !r.rewardsRoot) throw new RewardsError('MANIFEST_MISMATCH', `round ${round} of task ${task} is committed but has no manifest hash or rewards root`);
    const { manifest }: { manifest: RoundManifest } = await api.getManifest(r.manifestHash);
    if (manifest.task !== task || manifest.round !== round) throw new RewardsError('MANIFEST_MISMATCH', `manifest ${r.manifestHash} is of round ${manifest.round} of task ${manifest.task}, not round ${round} of task ${task}`);
    if ((manifest.private !== undefined) !== wantPrivate) throw new RewardsError('MANIFEST_MISMATCH', `manifest ${r.manifestHash} of round ${round} is ${manifest.private ? 'private' : 'public'}, but task ${task} is ${t.privacy}`);
    const tree = manifestRewardsTree(manifest);
    const [chainRoot, reward, claimedSoFar] = await read(`roundRewards(${task}, ${round})`, () => chain.distributor.roundRewards(task, round));
    const roots = { tree: tree.root, manifest: manifest.rewardsRoot, coordinator: r.rewardsRoot, chain: chainRoot.toLowerCase() };
    if (new Set(Object.values(roots)).size !== 1) {
      throw new RewardsError('ROOT_MISMATCH', `round ${round} of task ${task}: rewards roots disagree (rebuilt from the manifest ${roots.tree}, in the manifest ${roots.manifest}, reported by the coordinator ${roots.coordinator}, on chain ${roots.chain})`);
    }
    yield { round, tree, reward, claimedSoFar };
  }
}

/** The round's leaf of `key` (address or nullifier) with its proof checked locally; null when it has none. */
function leafIn(c: CheckedRound, task: number, key: string, kind: RewardAccountKind): { index: number; amount: bigint; proof: string[] } | null {
  const leaf = c.tree.proofFor(key);
  if (!leaf) return null;
  if (!verifyRewardProof(c.tree.root, leaf.index, key, leaf.amount, leaf.proof, kind)) throw new RewardsError('BAD_PROOF', `round ${c.round} of task ${task}: the proof of ${key} does not verify against ${c.tree.root}`);
  return { index: leaf.index, amount: leaf.amount, proof: [...leaf.proof] };
}

async function linesOn(chain: ChainHandle, api: CoordinatorApi, task: number, account: string): Promise<RewardLine[]> {
  if (!/^0x[0-9a-fA-F]{40}$/.test(account)) throw new TypeError(`${account} is not an 0x-prefixed 20-byte address`);
  const who = account.toLowerCase();
  const lines: RewardLine[] = [];
  for await (const c of checkedRounds(chain, api, task, 'address')) {
    const leaf = leafIn(c, task, who, 'address');
    if (!leaf) continue;
    const claimed = await read(`isClaimed(${task}, ${c.round}, ${leaf.index})`, () => chain.distributor.isClaimed(task, c.round, leaf.index));
    lines.push({ round: c.round, ...leaf, claimed, claimable: !claimed && c.reward - c.claimedSoFar >= leaf.amount });
  }
  return lines;
}

async function privateLinesOn(chain: ChainHandle, api: CoordinatorApi, task: number, identity: Identity): Promise<PrivateRewardLine[]> {
  const lines: PrivateRewardLine[] = [];
  for await (const c of checkedRounds(chain, api, task, 'nullifier')) {
    const n = nullifierOf(identity.secret, task, c.round);
    const nullifier = toBytes32(n);
    const leaf = leafIn(c, task, nullifier, 'nullifier');
    if (!leaf) continue;
    const claimed = await read(`isNullifierSpent(${nullifier})`, () => chain.distributor.isNullifierSpent(n));
    lines.push({ round: c.round, nullifier, ...leaf, claimed, claimable: !claimed && c.reward - c.claimedSoFar >= leaf.amount });
  }
  return lines;
}

/**
 * The account's entitlement in every committed round of the task (rounds where it is owed nothing
 * are left out), checked against the manifests and the chain. Throws CoordinatorError when the
 * coordinator refuses or sends something malformed, RewardsError when the chain cannot be used or
 * any root disagrees.
 */
export async function listRewards(o: ListRewardsOptions): Promise<RewardLine[]> {
  const chain = await openChain(o.api, o.provider, o.rpcUrl);
  try {
    return await linesOn(chain, o.api, o.task, o.account);
  } finally {
    chain.close();
  }
}

/**
 * The member's entitlement in every committed round of a private task: for each round, the leaf
 * of its nullifier nullifierOf(secret, task, round) (rounds where it is owed nothing are left out),
 * checked against the manifests and the chain exactly as listRewards does; `claimed` is the
 * distributor's isNullifierSpent. Throws RewardsError WRONG_MODE for a public task.
 */
export async function listPrivateRewards(o: ListPrivateRewardsOptions): Promise<PrivateRewardLine[]> {
  const chain = await openChain(o.api, o.provider, o.rpcUrl);
  try {
    return await privateLinesOn(chain, o.api, o.task, o.identity);
  } finally {
    chain.close();
  }
}

/**
 * Turns a failed claim (a revert by custom error name, no gas, an RPC failure) into a RewardsError.
 * `account` names the claimant in messages (an address, or `nullifier 0x…` for a private claim);
 * `sender` is who pays the gas (default: the account).
 */
export function claimError(e: unknown, task: number, round: number, account: string, distributor?: RewardDistributor, sender = account): RewardsError {
  if (e instanceof RewardsError) return e;
  if (isCallException(e)) {
    let name = e.revert?.name;
    if (!name && e.data && distributor) name = distributor.interface.parseError(e.data)?.name;
    const at = `round ${round} of task ${task}`;
    switch (name) {
      case 'DistributorAlreadyClaimed':
        return new RewardsError('ALREADY_CLAIMED', `${at} was already claimed by ${account} (DistributorAlreadyClaimed)`, name);
      case 'DistributorInvalidProof':
        return new RewardsError('INVALID_PROOF', `the distributor rejected the proof of ${account} for ${at} (DistributorInvalidProof)`, name);
      case 'DistributorUnknownRound':
        return new RewardsError('UNKNOWN_ROUND', `${at} has no rewards on chain (DistributorUnknownRound)`, name);
      case 'DistributorOverClaim':
        return new RewardsError('OVER_CLAIM', `${at} has not enough unclaimed reward left to pay ${account} (DistributorOverClaim)`, name);
      case 'DistributorZeroAmount':
        return new RewardsError('ZERO_AMOUNT', `a claim of 0 for ${at} (DistributorZeroAmount)`, name);
      case 'DistributorNullifierSpent':
        return new RewardsError('ALREADY_CLAIMED', `${at} was already claimed by ${account} (DistributorNullifierSpent)`, name);
      case 'DistributorInvalidMerkleProof':
        return new RewardsError('INVALID_PROOF', `the distributor rejected the Merkle proof of ${account} for ${at} (DistributorInvalidMerkleProof)`, name);
      case 'DistributorInvalidZkProof':
        return new RewardsError('INVALID_ZK_PROOF', `the distributor rejected the zero-knowledge claim proof of ${account} for ${at} (DistributorInvalidZkProof): are the local claim circuit keys those of the distributor's verifier?`, name);
      case 'DistributorZeroRecipient':
        return new RewardsError('BAD_RECIPIENT', `a private claim of ${at} to the zero address (DistributorZeroRecipient)`, name);
      default:
        return new RewardsError('REVERTED', `the claim of ${at} reverted: ${name ?? e.reason ?? e.shortMessage}`, name);
    }
  }
  if (isError(e, 'INSUFFICIENT_FUNDS')) return new RewardsError('NO_GAS', `${sender} has not enough ETH to pay the gas of the claim of round ${round} of task ${task}`);
  return new RewardsError('CHAIN_UNAVAILABLE', `the claim of round ${round} of task ${task} failed: ${cause(e)}`);
}

/**
 * Sends one distributor.claim and waits for its receipt. Refusals (reverts, no gas, RPC failure)
 * throw a RewardsError named after the distributor's custom error.
 */
export async function claimRound(distributor: RewardDistributor, task: number, round: number, index: number, amount: bigint, proof: readonly string[], account: string): Promise<ClaimResult> {
  return sendClaim(() => distributor.claim(task, round, index, amount, [...proof]), distributor, task, round, amount, account);
}

/**
 * Sends one distributor.claimPrivate, paying `recipient` the leaf (nullifier, amount) against the
 * Merkle proof and the Groth16 claim proof (proveClaim's packed proof), and waits for its receipt.
 * `sender` (the distributor's runner) only pays the gas. Refusals throw a RewardsError as claimRound's.
 */
export async function claimPrivateRound(
  distributor: RewardDistributor,
  a: { task: number; round: number; nullifier: string; amount: bigint; recipient: string; merkleProof: readonly string[]; zkProof: readonly string[]; sender: string },
): Promise<PrivateClaimResult> {
  const c = await sendClaim(
    () => distributor.claimPrivate(a.task, a.round, BigInt(a.nullifier), a.amount, a.recipient, [...a.merkleProof], [...a.zkProof]),
    distributor,
    a.task,
    a.round,
    a.amount,
    `nullifier ${a.nullifier.toLowerCase()}`,
    a.sender,
  );
  return { ...c, nullifier: a.nullifier.toLowerCase() as `0x${string}`, recipient: a.recipient.toLowerCase() };
}

/** Sends a claim transaction and waits for it; any failure becomes claimError's RewardsError. */
async function sendClaim(send: () => Promise<ContractTransactionResponse>, distributor: RewardDistributor, task: number, round: number, amount: bigint, account: string, sender = account): Promise<ClaimResult> {
  try {
    const tx = await send();
    const receipt = await tx.wait();
    if (!receipt || receipt.status !== 1) throw new RewardsError('REVERTED', `the claim of round ${round} of task ${task} (tx ${tx.hash}) was not mined successfully`);
    return { round, amount, txHash: receipt.hash };
  } catch (e) {
    throw claimError(e, task, round, account, distributor, sender);
  }
}

/**
 * The lines to claim: exactly the given rounds (each must have an unclaimed entitlement:
 * NOT_ENTITLED or ALREADY_CLAIMED otherwise), or by default every unclaimed one.
 */
function toClaim<L extends RewardLine>(lines: L[], rounds: readonly number[] | undefined, task: number, who: string, revertName: string): L[] {
  if (!rounds) return lines.filter((l) => !l.claimed);
  const todo: L[] = [];
  for (const round of [...new Set(rounds)].sort((a, b) => a - b)) {
    const line = lines.find((l) => l.round === round);
    if (!line) throw new RewardsError('NOT_ENTITLED', `${who} has no reward in round ${round} of task ${task} (not committed, or nothing owed)`);
    if (line.claimed) throw new RewardsError('ALREADY_CLAIMED', `round ${round} of task ${task} was already claimed by ${who}`, revertName);
    todo.push(line);
  }
  return todo;
}

/**
 * Claims the signer's unclaimed rewards of the task (or exactly the given rounds), one transaction
 * at a time, each mined before the next is sent. Returns the claims made; an empty list when there
 * is nothing to claim. A refusal stops the run with a RewardsError (claims before it stay made and
 * were reported through onClaimed).
 */
export async function claimRewards(o: ClaimRewardsOptions): Promise<ClaimResult[]> {
  const chain = await openChain(o.api, o.signer.provider ?? undefined, o.rpcUrl);
  try {
    const signer = o.signer.provider ? o.signer : o.signer.connect(chain.provider);
    const account = (await signer.getAddress()).toLowerCase();
    const lines = await linesOn(chain, o.api, o.task, account);
    const todo = toClaim(lines, o.rounds, o.task, account, 'DistributorAlreadyClaimed');
    const distributor = attach('RewardDistributor', chain.info.distributor, signer as ContractRunner);
    const done: ClaimResult[] = [];
    for (const line of todo) {
      const c = await claimRound(distributor, o.task, line.round, line.index, line.amount, line.proof, account);
      done.push(c);
      o.onClaimed?.(c);
    }
    return done;
  } finally {
    chain.close();
  }
}

/**
 * What the task's reward budget still holds on chain (RewardDistributor.budgetOf): once it is 0,
 * rounds still train and commit, but pay nothing (coordinator/use-cases/round-reward.ts).
 */
export async function budgetLeft(o: { api: CoordinatorApi; task: number; provider?: Provider; rpcUrl?: string }): Promise<bigint> {
  const chain = await openChain(o.api, o.provider, o.rpcUrl);
  try {
    return await chain.distributor.budgetOf(o.task);
  } finally {
    chain.close();
  }
}

/**
 * Claims the member's unclaimed private rewards of the task (or exactly the given rounds) to
 * `recipient`: for each round, a Groth16 proof of the identity secret behind the round's nullifier
 * that names the recipient (proveClaim), then distributor.claimPrivate sent by `signer`, each mined
 * before the next is sent. Rounds whose nullifier is already spent are skipped (unless named in
 * `rounds`: ALREADY_CLAIMED). The signer pays the gas and is visible on chain; the proof makes the
 * payout go to the recipient whoever sends it. Refusals throw a RewardsError (claims before it stay
 * made and were reported through onClaimed).
 */
export async function claimPrivateRewards(o: ClaimPrivateRewardsOptions): Promise<PrivateClaimResult[]> {
  const checkRecipient = (a: string): string => {
    if (!/^0x[0-9a-fA-F]{40}$/.test(a)) throw new TypeError(`recipient ${a} is not an 0x-prefixed 20-byte address`);
    if (a.toLowerCase() === ZeroAddress) throw new TypeError('the recipient must not be the zero address');
    return a.toLowerCase();
  };
  if (typeof o.recipient === 'string') checkRecipient(o.recipient);
  const chain = await openChain(o.api, o.signer.provider ?? undefined, o.rpcUrl);
  try {
    const signer = o.signer.provider ? o.signer : o.signer.connect(chain.provider);
    const sender = (await signer.getAddress()).toLowerCase();
    const lines = await privateLinesOn(chain, o.api, o.task, o.identity);
    const todo = toClaim(lines, o.rounds, o.task, 'this identity', 'DistributorNullifierSpent');
    if (todo.length === 0) return [];
    const recipient = checkRecipient(typeof o.recipient === 'string' ? o.recipient : await o.recipient());
    const distributor = attach('RewardDistributor', chain.info.distributor, signer as ContractRunner);
    const done: PrivateClaimResult[] = [];
    for (const line of todo) {
      const { proof, nullifier } = await proveClaim({ secret: o.identity.secret, task: o.task, round: line.round, recipient });
      if (toBytes32(nullifier) !== line.nullifier) throw new Error(`internal: the claim proof's nullifier ${toBytes32(nullifier)} is not the listed ${line.nullifier}`);
      const c = await claimPrivateRound(distributor, { task: o.task, round: line.round, nullifier: line.nullifier, amount: line.amount, recipient, merkleProof: line.proof, zkProof: proof, sender });
      done.push(c);
      o.onClaimed?.(c);
    }
    return done;
  } finally {
    chain.close();
  }
}
