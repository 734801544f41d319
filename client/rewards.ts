import { isCallException, isError, type ContractRunner, type Provider, type Signer } from 'ethers';
import { attach, loadArtifact, type RewardDistributor } from '../contracts/artifacts.ts';
import { rpcProvider } from '../contracts/provider.ts';
import { manifestRewardsTree, verifyRewardProof, type RoundManifest } from '../protocol/index.ts';
import type { ChainInfoReply, CoordinatorApi } from './coordinator-api.ts';

/**
 * A data owner's rewards: what each committed round of a task owes an account, and claiming it from
 * the RewardDistributor. Nothing is taken on trust: every manifest is re-hashed and decoded, its
 * rewards tree is rebuilt locally and its root must equal both the round's rewardsRoot as the
 * coordinator reports it and the root the distributor holds on chain; the proof is checked locally
 * before it is ever sent. The chain (RPC URL, distributor address) comes from the coordinator's
 * GET /v1/chain unless the caller passes its own RPC URL; the registry must name the distributor.
 */

/** One round in which the account is owed tokens. */
export interface RewardLine {
  round: number;
  /** Token base units. */
  amount: bigint;
  /** The distributor's isClaimed for (task, round, account). */
  claimed: boolean;
  /** StandardMerkleTree proof of (account, amount) in the round's rewards tree. */
  proof: string[];
  /** Not claimed yet, and the round still holds enough unclaimed reward on chain to pay it. */
  claimable: boolean;
}

export interface ClaimResult {
  round: number;
  amount: bigint;
  txHash: string;
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
  | 'REVERTED';

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

/**
 * The contract ABIs come from the build's artefacts (contracts/out); builds them (a no-op when
 * current) when missing, as in a fresh clone. The compiler is loaded only then.
 */
export async function ensureContractArtifacts(): Promise<void> {
  try {
    loadArtifact('CheckpointRegistry');
    loadArtifact('RewardDistributor');
  } catch {
    const { buildContracts } = await import('../contracts/build.ts');
    await buildContracts({ quiet: true });
  }
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

async function linesOn(chain: ChainHandle, api: CoordinatorApi, task: number, account: string): Promise<RewardLine[]> {
  if (!/^0x[0-9a-fA-F]{40}$/.test(account)) throw new TypeError(`${account} is not an 0x-prefixed 20-byte address`);
  const who = account.toLowerCase();
  const t = await api.getTask(task);
  const lines: RewardLine[] = [];
  for (let round = 1; round <= t.lastRound; round++) {
    const r = await api.getRound(task, round);
    if (r.state !== 'committed') continue;
    if (r.task !== task || r.round !== round) throw new RewardsError('MANIFEST_MISMATCH', `asked for round ${round} of task ${task}, the coordinator answered round ${r.round} of task ${r.task}`);
    if (!r.manifestHash || !r.rewardsRoot) throw new RewardsError('MANIFEST_MISMATCH', `round ${round} of task ${task} is committed but has no manifest hash or rewards root`);
    const { manifest }: { manifest: RoundManifest } = await api.getManifest(r.manifestHash);
    if (manifest.task !== task || manifest.round !== round) throw new RewardsError('MANIFEST_MISMATCH', `manifest ${r.manifestHash} is of round ${manifest.round} of task ${manifest.task}, not round ${round} of task ${task}`);
    const tree = manifestRewardsTree(manifest);
    const [chainRoot, reward, claimedSoFar] = await read(`roundRewards(${task}, ${round})`, () => chain.distributor.roundRewards(task, round));
    const roots = { tree: tree.root, manifest: manifest.rewardsRoot, coordinator: r.rewardsRoot, chain: chainRoot.toLowerCase() };
    if (new Set(Object.values(roots)).size !== 1) {
      throw new RewardsError('ROOT_MISMATCH', `round ${round} of task ${task}: rewards roots disagree (rebuilt from the manifest ${roots.tree}, in the manifest ${roots.manifest}, reported by the coordinator ${roots.coordinator}, on chain ${roots.chain})`);
    }
    const leaf = tree.proofFor(who);
    if (!leaf) continue;
    if (!verifyRewardProof(tree.root, who, leaf.amount, leaf.proof)) throw new RewardsError('BAD_PROOF', `round ${round} of task ${task}: the proof of ${who} does not verify against ${tree.root}`);
    const claimed = await read(`isClaimed(${task}, ${round}, ${who})`, () => chain.distributor.isClaimed(task, round, who));
    lines.push({ round, amount: leaf.amount, claimed, proof: [...leaf.proof], claimable: !claimed && reward - claimedSoFar >= leaf.amount });
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

/** Turns a failed claim (a revert by custom error name, no gas, an RPC failure) into a RewardsError. */
export function claimError(e: unknown, task: number, round: number, account: string, distributor?: RewardDistributor): RewardsError {
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
      default:
        return new RewardsError('REVERTED', `the claim of ${at} reverted: ${name ?? e.reason ?? e.shortMessage}`, name);
    }
  }
  if (isError(e, 'INSUFFICIENT_FUNDS')) return new RewardsError('NO_GAS', `${account} has not enough ETH to pay the gas of the claim of round ${round} of task ${task}`);
  return new RewardsError('CHAIN_UNAVAILABLE', `the claim of round ${round} of task ${task} failed: ${cause(e)}`);
}

/**
 * Sends one distributor.claim and waits for its receipt. Refusals (reverts, no gas, RPC failure)
 * throw a RewardsError named after the distributor's custom error.
 */
export async function claimRound(distributor: RewardDistributor, task: number, round: number, amount: bigint, proof: readonly string[], account: string): Promise<ClaimResult> {
  try {
    const tx = await distributor.claim(task, round, amount, [...proof]);
    const receipt = await tx.wait();
    if (!receipt || receipt.status !== 1) throw new RewardsError('REVERTED', `the claim of round ${round} of task ${task} (tx ${tx.hash}) was not mined successfully`);
    return { round, amount, txHash: receipt.hash };
  } catch (e) {
    throw claimError(e, task, round, account, distributor);
  }
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
    let todo: RewardLine[];
    if (o.rounds) {
      todo = [];
      for (const round of [...new Set(o.rounds)].sort((a, b) => a - b)) {
        const line = lines.find((l) => l.round === round);
        if (!line) throw new RewardsError('NOT_ENTITLED', `${account} has no reward in round ${round} of task ${o.task} (not committed, or nothing owed)`);
        if (line.claimed) throw new RewardsError('ALREADY_CLAIMED', `round ${round} of task ${o.task} was already claimed by ${account}`, 'DistributorAlreadyClaimed');
        todo.push(line);
      }
    } else {
      todo = lines.filter((l) => !l.claimed);
    }
    const distributor = attach('RewardDistributor', chain.info.distributor, signer as ContractRunner);
    const done: ClaimResult[] = [];
    for (const line of todo) {
      const c = await claimRound(distributor, o.task, line.round, line.amount, line.proof, account);
      done.push(c);
      o.onClaimed?.(c);
    }
    return done;
  } finally {
    chain.close();
  }
}
