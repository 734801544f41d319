import { threadedEvaluator } from '../../protocol/scoring/eval-threads.ts';
import {
  addWords,
  advertProofStatement,
  checkTranscript,
  decodeMeanDelta,
  recoverSecrets,
  SecAggFault,
  secureRoundThresholds,
  secureScale,
  SecureTranscript,
  unmaskSum,
  wordsFromBytes,
  zeroWords,
  type CheckedTranscript,
  type RecoveredSecrets,
} from '../../protocol/secagg/index.ts';
import {
  canonicalJson,
  decodeCheckpoint,
  decodeWire,
  weighByStaleness,
  FLOAT32_WIRE,
  wireBytes,
  decodeManifest,
  DEFAULT_DOMAIN,
  EMPTY_REWARDS_ROOT,
  encodeCheckpoint,
  contentHash,
  hashToField,
  manifestRewardsTree,
  SNARK_FIELD,
  toBytes32,
  updateDigest,
  verifyManifest,
  weightManifest,
  type Checkpoint,
  type Eip712Domain,
  type Hex32,
  type RoundManifest,
} from '../../protocol/index.ts';
import { MembersTree } from '../../protocol/zk/members-tree.ts';
import { fileURLToPath } from 'node:url';
import type { ZkKeySet } from '../../circuits/key-set.ts';
import { aggregateStep, decodeValidationSet, earlierItems, scoreContributions, type ContributionBlock } from '../../protocol/scoring/index.ts';
// The auditor re-runs the coordinator's own aggregation rules. coordinator/strategies is pure maths
// (no Redis, no HTTP, no state): importing it is the point, since a re-implementation could differ
// from the coordinator in the last bit and the check is bit-for-bit equality of the checkpoint hash.
import { createStrategy, type ClientDelta } from '../../coordinator/strategies/index.ts';
import { readChainHistory, type ChainHistory, type Claimed, type PrivateClaimed, type RoundCommitted } from './chain-history.ts';
import { fetchVerified, SourceUnavailableError, type ContentSource } from './content-source.ts';
import { CHECKS, columnsOf, type AuditReport, type CheckName, type CheckResult, type RoundRow } from './report.ts';

// The Groth16 verifier (snarkjs) takes about a second to load, and only private rounds need it: it
// is imported on first use. Once loaded, snarkjs keeps worker threads alive until terminateZk().
type ZkProofs = typeof import('../../protocol/zk/proofs.ts');
let zkModule: Promise<ZkProofs> | undefined;
const zk = (): Promise<ZkProofs> => (zkModule ??= import('../../protocol/zk/proofs.ts'));

/**
 * Stops the proof verifier's worker threads when an audit has loaded it (a no-op otherwise): call it
 * when done auditing, or the process never exits on its own.
 */
export async function releaseAuditResources(): Promise<void> {
  if (zkModule) await (await zkModule).terminateZk();
}

const ZERO_ROOT = EMPTY_REWARDS_ROOT;

export interface AuditOptions {
  /** JSON-RPC endpoint of the chain the registry lives on. */
  rpcUrl: string;
  /** CheckpointRegistry address. */
  registry: string;
  task: number;
  /** Where the checkpoints, manifests and updates named on chain are read from. */
  source: ContentSource;
  /** Also fetch every accepted update and re-run the aggregation (check 5). */
  reaggregate?: boolean;
  /** First block to read events from (0); the registry's deployment block is enough. */
  fromBlock?: number;
  /** Audit the history as of this block (default: the latest block when the audit starts). */
  toBlock?: number;
  /** At most this many blocks per eth_getLogs call (default: the whole range at once). */
  blockRange?: number;
  /** Re-aggregation keeps a round's updates in memory up to this many bytes, else reads them twice (256 MiB). */
  maxCacheBytes?: number;
  /** Private tasks with ceremony keys: the finalized ceremony folder (else FL_ZK_KEYS, else the development keys). */
  zkKeysDir?: string;
  /** The phase-1 powers of tau the ceremony is re-verified against (default: the repository's). */
  ptau?: string;
  /** A phase-1 ceremony folder (fl-ceremony ptau): re-verified too, and its final.ptau used as `ptau`. */
  ptauCeremony?: string;
}

const MAX_PROBLEMS_SHOWN = 5;
// The repository's phase-1 file, unless the audit is told another (a ceremony records the one it used).
const DEFAULT_PTAU = fileURLToPath(new URL('../../circuits/ptau/pot14_final.ptau', import.meta.url));

function list(items: string[]): string {
  if (items.length <= MAX_PROBLEMS_SHOWN) return items.join('; ');
  return `${items.slice(0, MAX_PROBLEMS_SHOWN).join('; ')}; and ${items.length - MAX_PROBLEMS_SHOWN} more`;
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Verified {
  hash: Hex32;
  /** The decoded checkpoint, only when its bytes hashed to `hash`. */
  checkpoint: Checkpoint | null;
  /** How to name it in a finding: "the initial checkpoint" or "round 3's checkpoint". */
  label: string;
}

/**
 * Audits a task's whole on-chain history, trusting neither the coordinator, the content source nor
 * the RPC node's event arguments. Round by round (in log order) it checks the checkpoint bytes and
 * header, the parent links, the manifest (bytes, form, pro-rata payout, root, amounts against the
 * event), the participation root (and, for a private round, that the publicly admitted members
 * rebuild it and that every accepted update's membership proof verifies against it), the
 * distributor's record and every claim (public and private), and with `reaggregate` re-runs the
 * aggregation from the archived updates to reproduce the checkpoint hash bit for bit.
 *
 * Verifying a private round's proofs loads snarkjs, whose worker threads keep the process alive:
 * call releaseAuditResources() when done.
 *
 * Every finding is a failed CheckResult naming its round and check; the audit itself only throws
 * (AuditSetupError, SourceUnavailableError) when the chain or the source cannot be used at all.
 */
export async function auditTask(opts: AuditOptions): Promise<AuditReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  if (!Number.isSafeInteger(opts.task) || opts.task < 1) throw new RangeError(`task must be a positive integer, got ${opts.task}`);
  await opts.source.probe();
  const chain = await readChainHistory(opts);
  try {
    return await audit(opts, chain, startedAt, t0);
  } finally {
    chain.provider.destroy();
  }
}

async function audit(opts: AuditOptions, chain: ChainHistory, startedAt: Date, t0: number): Promise<AuditReport> {
  const { source, task } = opts;
  const taskN = BigInt(task);
  const all: CheckResult[] = [];
  const record = (into: CheckResult[], round: number | null, check: CheckName, ok: boolean, detail: string, skipped = false) => {
    // A skipped check is not ok (it sits behind a finding) unless it is optional (ok passed as true).
    const c: CheckResult = skipped ? { round, check, ok, skipped: true, detail } : { round, check, ok, detail };
    into.push(c);
    all.push(c);
  };

  // ---- Task-wide: the TaskCreated event, logs that did not parse --------------------------------
  const taskChecks: CheckResult[] = [];
  for (const p of chain.problems) record(taskChecks, p.round, CHECKS.eventParse, false, p.detail);
  let genesisHash: Hex32 | null = null;
  if (chain.taskCreated.length === 1) {
    const e = chain.taskCreated[0]!;
    genesisHash = e.initialCheckpoint;
    record(taskChecks, null, CHECKS.taskCreated, true, `TaskCreated at block ${e.blockNumber}: initial checkpoint ${genesisHash}`);
  } else if (chain.taskCreated.length === 0) {
    record(taskChecks, null, CHECKS.taskCreated, false, `no TaskCreated event for task ${task} in blocks ${chain.fromBlock}..${chain.toBlock} (is --from-block after the task's creation?)`);
  } else {
    genesisHash = chain.taskCreated[0]!.initialCheckpoint;
    record(taskChecks, null, CHECKS.taskCreated, false, `${chain.taskCreated.length} TaskCreated events for task ${task} (blocks ${chain.taskCreated.map((e) => e.blockNumber).join(', ')})`);
  }

  // ---- Round 0: the initial checkpoint ---------------------------------------------------------
  const genesis: CheckResult[] = [];
  let prev: Verified | null = null;
  // The validation set a validation-gain task committed to at creation (in its initial checkpoint).
  let genesisValidation: Hex32 | null = null;
  // Decoded manifests by round: a round's copy checks look back at the rounds before it.
  const manifestsByRound = new Map<number, RoundManifest>();
  if (genesisHash === null) {
    record(genesis, 0, CHECKS.genesisBytes, false, 'not checked: no initial checkpoint on chain', true);
    record(genesis, 0, CHECKS.genesisHeader, false, 'not checked: no initial checkpoint on chain', true);
  } else {
    const f = await fetchVerified(source, 'checkpoints', genesisHash);
    let cp: Checkpoint | null = null;
    if (!f.ok) {
      record(genesis, 0, CHECKS.genesisBytes, false, f.detail);
      record(genesis, 0, CHECKS.genesisHeader, false, 'not checked: initial checkpoint bytes unavailable', true);
    } else {
      record(genesis, 0, CHECKS.genesisBytes, true, `${f.bytes.length} bytes hash to ${genesisHash}`);
      try {
        cp = decodeCheckpoint(f.bytes);
      } catch (e) {
        record(genesis, 0, CHECKS.genesisHeader, false, `initial checkpoint does not decode: ${msg(e)}`);
      }
      if (cp) {
        const bad: string[] = [];
        if (cp.task !== task) bad.push(`header names task ${cp.task}, not ${task}`);
        if (cp.round !== 0) bad.push(`header names round ${cp.round}, not 0`);
        if (cp.parentHash !== null) bad.push(`header names parent ${cp.parentHash}; an initial checkpoint has none`);
        record(genesis, 0, CHECKS.genesisHeader, bad.length === 0, bad.length ? list(bad) : `task ${task}, round 0, no parent, ${cp.weights.length} weights`);
      }
    }
    prev = { hash: genesisHash, checkpoint: cp, label: 'the initial checkpoint' };
    genesisValidation = cp?.validationHash ?? null;
    if (cp?.zkKeys) {
      const claimVerifier = String(await chain.distributorContract.claimVerifier({ blockTag: chain.toBlock }));
      // Loaded only for private tasks: it brings snarkjs and solc.
      const { checkZkKeys } = await import('./zk-keys-check.ts');
      // A ceremony pin with no folder given: the content source publishes the ceremony (a coordinator's
      // GET /v1/ceremony, or <DATA_DIR>/ceremony); it is fetched, and re-verified like a given one.
      let fetched: string | null = null;
      if (cp.zkKeys.kind === 'ceremony' && cp.zkKeys.transcript && !opts.zkKeysDir && source.ceremony) {
        const c = await source.ceremony(cp.zkKeys.transcript as Hex32);
        if ('dir' in c) {
          opts = { ...opts, zkKeysDir: c.dir };
          fetched = `; fetched from ${source.description}`;
        } else fetched = ` (the ceremony is not available from ${source.description}: ${c.missing})`;
      }
      const z = await checkZkKeys({ pin: cp.zkKeys, ...(opts.zkKeysDir ? { keysDir: opts.zkKeysDir } : {}), ptau: opts.ptau ?? DEFAULT_PTAU, ...(opts.ptauCeremony ? { ptauCeremony: opts.ptauCeremony } : {}), provider: chain.provider, claimVerifier, blockTag: chain.toBlock });
      record(genesis, 0, CHECKS.genesisZkKeys, z.keys.ok, `${z.keys.detail}${fetched ?? ''}`);
      record(genesis, 0, CHECKS.genesisClaimVerifier, z.verifier.ok, z.verifier.detail);
    }
  }

  // ---- Claims, grouped by round ----------------------------------------------------------------
  const byRound = <T extends { round: bigint }>(events: readonly T[]): Map<bigint, T[]> => {
    const out = new Map<bigint, T[]>();
    for (const c of events) {
      const l = out.get(c.round) ?? [];
      l.push(c);
      out.set(c.round, l);
    }
    return out;
  };
  const claimsByRound = byRound<Claimed>(chain.claims);
  const privateClaimsByRound = byRound<PrivateClaimed>(chain.privateClaims);
  const committed = new Set(chain.rounds.map((r) => BigInt(r.round)));
  for (const [byR, name] of [[claimsByRound, 'Claimed'], [privateClaimsByRound, 'PrivateClaimed']] as const) {
    for (const [round, cl] of byR) {
      if (committed.has(round)) continue;
      const total = cl.reduce((s, c) => s + c.amount, 0n);
      const rn = round >= 1n && round <= 2n ** 40n ? Number(round) : null;
      record(taskChecks, rn, CHECKS.claimsEntitlement, false, `${cl.length} ${name} event(s) (${total} in all) for round ${round}, which has no RoundCommitted event in blocks ${chain.fromBlock}..${chain.toBlock}`);
    }
  }
  // Nullifiers paid so far (the distributor's spent set is one for all rounds): nullifier -> block.
  const spentNullifiers = new Map<bigint, number>();
  // The members list is read once, when the first private round needs it (it only ever grows).
  let membersList: Promise<MembersListed | null> | undefined;
  const members = () => (membersList ??= (source.members ? source.members(task) : Promise.resolve(null)).then((l) => (l === null ? null : parseMembers(l))));
  const membersRoot = membersRootBuilder();
  // The EIP-712 domain every update of the task is signed (and its proof bound) under: the chain's.
  const domain: Eip712Domain = { name: DEFAULT_DOMAIN.name, version: DEFAULT_DOMAIN.version, chainId: chain.chainId };

  // ---- Committed rounds, in log order ----------------------------------------------------------
  const rows: RoundRow[] = [];
  let lastRound: number | null = null;
  for (const ev of chain.rounds) {
    const rc: CheckResult[] = [];
    const add = (check: CheckName, ok: boolean, detail: string) => record(rc, ev.round, check, ok, detail);
    const skip = (check: CheckName, detail: string) => record(rc, ev.round, check, false, `not checked: ${detail}`, true);
    const optional = (check: CheckName, detail: string) => record(rc, ev.round, check, true, `not checked: ${detail}`, true);

    if (lastRound !== null && ev.round <= lastRound) add(CHECKS.eventOrder, false, `round ${ev.round} committed (block ${ev.blockNumber}) after round ${lastRound}: rounds only move forward`);
    else add(CHECKS.eventOrder, true, `block ${ev.blockNumber}, log ${ev.logIndex}`);

    // 1. The checkpoint: bytes, hash, header.
    const cpF = await fetchVerified(source, 'checkpoints', ev.checkpointHash);
    let cp: Checkpoint | null = null;
    if (!cpF.ok) {
      add(CHECKS.checkpointBytes, false, cpF.detail);
      skip(CHECKS.checkpointHeader, 'checkpoint bytes unavailable');
    } else {
      add(CHECKS.checkpointBytes, true, `${cpF.bytes.length} bytes hash to ${ev.checkpointHash}`);
      try {
        cp = decodeCheckpoint(cpF.bytes);
      } catch (e) {
        add(CHECKS.checkpointHeader, false, `checkpoint does not decode: ${msg(e)}`);
      }
      if (cp) {
        const bad: string[] = [];
        if (cp.task !== task) bad.push(`checkpoint header names task ${cp.task}, chain says ${task}`);
        if (cp.round !== ev.round) bad.push(`checkpoint header names round ${cp.round}, chain says ${ev.round}`);
        // A task's model never changes: the weights of every round have the initial checkpoint's layout.
        const parentSpec = prev?.checkpoint?.modelSpec;
        if (parentSpec && canonicalJson(parentSpec) !== canonicalJson(cp.modelSpec)) bad.push(`checkpoint header's model spec differs from ${prev?.label}'s`);
        add(CHECKS.checkpointHeader, bad.length === 0, bad.length ? list(bad) : `task ${task}, round ${ev.round}, strategy ${cp.strategy}, ${cp.weights.length} weights`);
      }
    }

    // 2. The parent links: chain to chain, and the checkpoint's own header to the chain.
    if (prev === null) skip(CHECKS.parentChain, 'no initial checkpoint on chain to start the history from');
    else if (ev.parentHash === prev.hash) add(CHECKS.parentChain, true, `parent is ${prev.label} ${prev.hash}`);
    else add(CHECKS.parentChain, false, `parent link broken: chain says parent ${ev.parentHash}, but ${prev.label} is ${prev.hash}`);
    if (cp) {
      if (cp.parentHash === ev.parentHash) add(CHECKS.parentHeader, true, `checkpoint header names parent ${ev.parentHash}`);
      else add(CHECKS.parentHeader, false, `checkpoint header says parent ${cp.parentHash ?? 'none'}, chain says ${ev.parentHash}`);
    } else skip(CHECKS.parentHeader, 'checkpoint unavailable or undecodable');

    // 3. The manifest: bytes, form, payout, and its agreement with the event.
    const mF = await fetchVerified(source, 'manifests', ev.manifestHash);
    let m: RoundManifest | null = null;
    const manifestChecks = [CHECKS.manifestDecode, CHECKS.manifestVerify, CHECKS.manifestEvent, CHECKS.manifestRewardsRoot, CHECKS.manifestAllocated] as const;
    if (!mF.ok) {
      add(CHECKS.manifestBytes, false, mF.detail);
      for (const c of manifestChecks) skip(c, 'manifest bytes unavailable');
    } else {
      add(CHECKS.manifestBytes, true, `${mF.bytes.length} bytes hash to ${ev.manifestHash}`);
      try {
        m = decodeManifest(mF.bytes);
      } catch (e) {
        add(CHECKS.manifestDecode, false, `manifest does not decode: ${msg(e)}`);
        for (const c of manifestChecks.slice(1)) skip(c, 'manifest undecodable');
      }
    }
    if (m) {
      manifestsByRound.set(ev.round, m);
      const accepted = m.entries.filter((e) => e.status === 'accepted').length;
      add(CHECKS.manifestDecode, true, `${m.entries.length} entries (${accepted} accepted), scoring '${m.scoring.rule}', strategy ${m.strategy.name}`);
      const problems = verifyManifest(m);
      add(CHECKS.manifestVerify, problems.length === 0, problems.length ? `verifyManifest: ${list(problems.map((p) => `${p.code}: ${p.message}`))}` : `scores, pro-rata split of ${m.reward}, allocated ${m.allocated} and rewards root re-derived`);
      const bad: string[] = [];
      if (m.task !== task) bad.push(`manifest names task ${m.task}, chain says ${task}`);
      if (m.round !== ev.round) bad.push(`manifest names round ${m.round}, chain says ${ev.round}`);
      if (m.checkpointHash !== ev.checkpointHash) bad.push(`manifest names checkpoint ${m.checkpointHash}, chain says ${ev.checkpointHash}`);
      if (m.baseHash !== ev.parentHash) bad.push(`manifest names base ${m.baseHash}, chain says parent ${ev.parentHash}`);
      if (cp && cp.strategy !== m.strategy.name) bad.push(`manifest names strategy ${m.strategy.name}, the checkpoint ${cp.strategy}`);
      add(CHECKS.manifestEvent, bad.length === 0, bad.length ? list(bad) : 'task, round, checkpoint, base and strategy agree with the chain');
      add(CHECKS.manifestRewardsRoot, m.rewardsRoot === ev.rewardsRoot, m.rewardsRoot === ev.rewardsRoot ? `rewards root ${ev.rewardsRoot}` : `rewards root mismatch: manifest says ${m.rewardsRoot}, chain says ${ev.rewardsRoot}`);
      const allocated = BigInt(m.allocated);
      add(CHECKS.manifestAllocated, allocated === ev.reward, allocated === ev.reward ? `reward ${ev.reward}` : `reward mismatch: manifest allocates ${allocated}, chain says reward ${ev.reward}`);
    }

    // 3b. Participation: who was allowed to upload (private rounds), and the proofs they uploaded with.
    const proofStats = await participation({ ev, m, task, domain, members, membersRoot, add, skip, optional, keys: opts.zkKeysDir });

    // 4. The distributor's record of the round, and every claim against it.
    const [dRoot, dReward, dClaimed] = await chain.distributorContract.roundRewards(taskN, ev.round, { blockTag: chain.toBlock });
    const root = dRoot.toLowerCase();
    if (ev.reward === 0n) {
      const ok = root === EMPTY_REWARDS_ROOT && dReward === 0n;
      add(CHECKS.rewardsDistributor, ok, ok ? 'no reward committed, none allocated' : `the round committed reward 0 but the distributor holds root ${root}, reward ${dReward}`);
    } else {
      const bad: string[] = [];
      if (root !== ev.rewardsRoot) bad.push(`distributor's rewards root is ${root}, chain event says ${ev.rewardsRoot}`);
      if (dReward !== ev.reward) bad.push(`distributor's reward is ${dReward}, chain event says ${ev.reward}`);
      add(CHECKS.rewardsDistributor, bad.length === 0, bad.length ? list(bad) : `distributor holds root and reward ${ev.reward}`);
    }
    const claims = claimsByRound.get(BigInt(ev.round)) ?? [];
    const privateClaims = privateClaimsByRound.get(BigInt(ev.round)) ?? [];
    const claimedSum = claims.reduce((s, c) => s + c.amount, 0n) + privateClaims.reduce((s, c) => s + c.amount, 0n);
    const claimCount = claims.length + privateClaims.length;
    {
      // The distributor's `claimed` counts both kinds of claim together.
      const bad: string[] = [];
      const events = privateClaims.length ? 'Claimed and PrivateClaimed events' : 'Claimed events';
      if (claimedSum > ev.reward) bad.push(`claims sum to ${claimedSum}, more than the round's reward ${ev.reward}`);
      if (claimedSum !== dClaimed) bad.push(`${events} sum to ${claimedSum}, the distributor counts ${dClaimed} claimed`);
      const counted = privateClaims.length ? `${claimCount} claim(s) (${privateClaims.length} private)` : `${claims.length} claim(s)`;
      add(CHECKS.claimsTotal, bad.length === 0, bad.length ? list(bad) : `${counted}, ${claimedSum} of ${ev.reward} claimed`);
    }
    if (claimCount === 0) add(CHECKS.claimsEntitlement, true, 'no claims');
    else if (!m) skip(CHECKS.claimsEntitlement, `${claimCount} claim(s) but the manifest is unavailable`);
    else {
      const bad: string[] = [];
      // The account's leaf in the rebuilt tree: its amount, and its index (which keys the distributor's claimed flag).
      let leafOf: (a: string) => { index: number; amount: bigint } | null;
      try {
        const tree = manifestRewardsTree(m);
        leafOf = (a) => {
          try {
            return tree.proofFor(a);
          } catch {
            return null; // an account of the other kind (an address in a private tree, or a nullifier in a public one)
          }
        };
      } catch (e) {
        leafOf = () => null;
        bad.push(`the manifest gives no rewards tree: ${msg(e)}`);
      }
      const entitled = (a: string) => leafOf(a)?.amount ?? 0n;
      const seen = new Set<string>();
      for (const c of claims) {
        if (seen.has(c.account)) bad.push(`${c.account} claimed twice (again at block ${c.blockNumber})`);
        seen.add(c.account);
        const want = entitled(c.account);
        if (c.amount !== want) bad.push(`${c.account} claimed ${c.amount} (block ${c.blockNumber}), the manifest entitles it to ${want}`);
      }
      for (const account of seen) {
        const leaf = leafOf(account);
        if (leaf && !(await chain.distributorContract.isClaimed(taskN, ev.round, leaf.index, { blockTag: chain.toBlock }))) {
          bad.push(`${account} has a Claimed event but isClaimed(${task}, ${ev.round}, ${leaf.index}) (its leaf) is false`);
        }
      }
      // Private claims pay (nullifier, amount) leaves. The recipient is deliberately not checked against
      // anything: who is paid is private by design, and the distributor's claim verifier already checked
      // that the claim's Groth16 proof binds this recipient to the nullifier's secret.
      if (privateClaims.length && !m.private) bad.push(`${privateClaims.length} PrivateClaimed event(s) against a public round, whose manifest pays addresses`);
      const spentHere = new Set<bigint>();
      for (const c of privateClaims) {
        const key = toBytes32(c.nullifier);
        const earlier = spentNullifiers.get(c.nullifier);
        if (earlier !== undefined) bad.push(`nullifier ${key} claimed twice (again at block ${c.blockNumber}, first at block ${earlier})`);
        else spentNullifiers.set(c.nullifier, c.blockNumber);
        spentHere.add(c.nullifier);
        const want = entitled(key);
        if (c.amount !== want) bad.push(`nullifier ${key} claimed ${c.amount} (block ${c.blockNumber}), the manifest entitles it to ${want}`);
      }
      for (const n of spentHere) {
        if (!(await chain.distributorContract.isNullifierSpent(n, { blockTag: chain.toBlock }))) {
          bad.push(`nullifier ${toBytes32(n)} has a PrivateClaimed event but isNullifierSpent is false`);
        }
      }
      const ok = privateClaims.length ? `${claimCount} claim(s) (${privateClaims.length} private), each exactly the manifest's entitlement` : `${claims.length} claim(s), each exactly the manifest's entitlement`;
      add(CHECKS.claimsEntitlement, bad.length === 0, bad.length ? list(bad) : ok);
    }

    // 5. Re-aggregation from the archived updates.
    if (opts.reaggregate) await reaggregate(opts, ev, m, cp, prev, add, skip, domain);
    if (opts.reaggregate && m?.contribution) await rescore({ opts, ev, m, contribution: m.contribution, prev, genesisValidation, manifests: manifestsByRound, add });

    rows.push({
      round: ev.round,
      blockNumber: ev.blockNumber,
      logIndex: ev.logIndex,
      txHash: ev.txHash,
      checkpointHash: ev.checkpointHash,
      parentHash: ev.parentHash,
      manifestHash: ev.manifestHash,
      rewardsRoot: ev.rewardsRoot,
      participationRoot: ev.participationRoot,
      uri: ev.uri,
      reward: ev.reward.toString(),
      accepted: m ? m.entries.filter((e) => e.status === 'accepted').length : null,
      claims: claims.map((c) => ({ account: c.account, amount: c.amount.toString(), blockNumber: c.blockNumber, txHash: c.txHash })),
      ...(m?.private || privateClaims.length
        ? { privateClaims: privateClaims.map((c) => ({ nullifier: toBytes32(c.nullifier), recipient: c.recipient, amount: c.amount.toString(), blockNumber: c.blockNumber, txHash: c.txHash })) }
        : {}),
      ...(proofStats ? { proofs: proofStats } : {}),
      checks: rc,
      columns: columnsOf(rc),
    });
    // The chain's history is the spine: the next round must build on this round's checkpoint,
    // whether or not its bytes checked out (if they did not, that is this round's finding).
    prev = { hash: ev.checkpointHash, checkpoint: cp, label: `round ${ev.round}'s checkpoint` };
    lastRound = ev.round;
  }

  // ---- The registry's own head agrees with the last event --------------------------------------
  if (chain.taskCreated.length > 0 || chain.head.exists) {
    const last = chain.rounds.at(-1);
    const wantCheckpoint = last?.checkpointHash ?? genesisHash;
    const wantRound = last?.round ?? 0;
    const bad: string[] = [];
    if (!chain.head.exists) bad.push(`the registry says task ${task} does not exist at block ${chain.toBlock}`);
    else {
      if (chain.head.latestCheckpoint !== wantCheckpoint) bad.push(`registry's latestCheckpoint is ${chain.head.latestCheckpoint}, the events end at ${wantCheckpoint}`);
      if (chain.head.lastRound !== wantRound) bad.push(`registry's lastRound is ${chain.head.lastRound}, the events end at round ${wantRound}`);
    }
    record(taskChecks, null, CHECKS.taskHead, bad.length === 0, bad.length ? list(bad) : `head at block ${chain.toBlock}: round ${wantRound}, checkpoint ${wantCheckpoint}`);
  }

  const findings = all.filter((c) => !c.ok && !c.skipped);
  return {
    format: 1,
    task,
    chainId: chain.chainId,
    registry: chain.registry,
    distributor: chain.distributor,
    fromBlock: chain.fromBlock,
    toBlock: chain.toBlock,
    source: source.description,
    reaggregate: opts.reaggregate ?? false,
    genesisHash,
    genesis,
    rounds: rows,
    taskChecks,
    checks: all,
    findings,
    pass: all.every((c) => c.ok),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
  };
}

/** A members list as the auditor uses it: the commitments, or why the list is unusable. */
type MembersListed = { commitments: bigint[]; problem: null; firstDuplicate: number } | { commitments: null; problem: string; firstDuplicate: number };

/** Parses the source's members list: canonical non-zero decimal field elements; notes the first repeated one. */
function parseMembers(list: string[]): MembersListed {
  const commitments: bigint[] = [];
  const seen = new Set<bigint>();
  let firstDuplicate = -1;
  for (const [i, v] of list.entries()) {
    if (typeof v !== 'string' || !/^[1-9][0-9]{0,76}$/.test(v) || BigInt(v) >= SNARK_FIELD) {
      return { commitments: null, problem: `member ${i} of the source's list (${String(v).slice(0, 80)}) is not a non-zero decimal BN254 field element`, firstDuplicate };
    }
    const c = BigInt(v);
    if (seen.has(c) && firstDuplicate < 0) firstDuplicate = i;
    seen.add(c);
    commitments.push(c);
  }
  return { commitments, problem: null, firstDuplicate };
}

/**
 * Roots of the members tree over the first n commitments. Rounds are snapshotted on a growing list,
 * so one tree is extended round after round instead of rebuilt (a tree of a million members costs
 * seconds); a smaller n than the last (never from an honest coordinator) rebuilds from scratch.
 */
function membersRootBuilder(): (commitments: readonly bigint[], n: number) => string {
  let tree = new MembersTree();
  return (commitments, n) => {
    if (n < tree.size) tree = MembersTree.of(commitments.slice(0, n));
    else tree.add(commitments.slice(tree.size, n));
    return tree.rootHex;
  };
}

interface ParticipationArgs {
  ev: RoundCommitted;
  m: RoundManifest | null;
  task: number;
  domain: Eip712Domain;
  members: () => Promise<MembersListed | null>;
  membersRoot: (commitments: readonly bigint[], n: number) => string;
  add: (check: CheckName, ok: boolean, detail: string) => void;
  skip: (check: CheckName, detail: string) => void;
  optional: (check: CheckName, detail: string) => void;
  /** The ceremony folder whose keys the proofs are checked with (else the process's keys). */
  keys?: string | undefined;
}

/** The key set proofs are verified with: the audit's --zk-keys folder, else the process's own. */
async function proofKeys(dir: string | undefined): Promise<ZkKeySet | undefined> {
  if (!dir) return undefined;
  const { ceremonyKeySet } = await import('../../circuits/key-set.ts');
  return ceremonyKeySet(dir);
}

/**
 * Check 3b. A public round commits a zero participationRoot. A private round commits the root of its
 * members snapshot, which its manifest names too; the first `private.members` commitments the source
 * lists as publicly admitted must rebuild it (so nobody uploaded as a member admitted in secret);
 * and every accepted entry's membership proof must verify against it, for this task and round, its
 * nullifier and the EIP-712 digest of exactly its Update. Returns the proof statistics of a private
 * round (null for a public one).
 */
async function participation(a: ParticipationArgs): Promise<{ checked: number; verified: number; ms: number } | null> {
  const { ev, m, task, add, skip } = a;
  const root = ev.participationRoot;
  if (!m) {
    skip(CHECKS.participationRoot, 'manifest unavailable, so whether the round is private is unknown');
    return null;
  }
  if (!m.private) {
    add(CHECKS.participationRoot, root === ZERO_ROOT, root === ZERO_ROOT ? 'public round: no participation root' : `public round (its manifest names no members) but the chain commits participation root ${root}`);
    return null;
  }

  // The root: the chain's and the manifest's agree, and there is one.
  if (root === ZERO_ROOT) add(CHECKS.participationRoot, false, `private round (members root ${m.private.membersRoot} in the manifest) but the chain commits a zero participation root`);
  else if (m.private.membersRoot !== root) add(CHECKS.participationRoot, false, `members root mismatch: manifest says ${m.private.membersRoot}, chain's participation root is ${root}`);
  else add(CHECKS.participationRoot, true, `members root ${root}, ${m.private.members} member(s)`);

  // Everyone behind the root was publicly admitted: rebuild it from the source's members list.
  const n = m.private.members;
  if (root === ZERO_ROOT) skip(CHECKS.participationMembers, 'no participation root on chain to rebuild');
  else {
    let listed: MembersListed | null = null;
    let problem: string | null = null;
    try {
      listed = await a.members();
      if (listed?.problem) problem = listed.problem;
    } catch (e) {
      if (e instanceof SourceUnavailableError) throw e;
      problem = `the members list is unavailable: ${msg(e)}`;
    }
    if (problem) add(CHECKS.participationMembers, false, problem);
    else if (!listed?.commitments) a.optional(CHECKS.participationMembers, 'the content source cannot list the task\'s members (a coordinator source can), so the root is not rebuilt');
    else if (listed.commitments.length < n) add(CHECKS.participationMembers, false, `the round was opened on ${n} member(s), but the source lists only ${listed.commitments.length} admitted`);
    else if (listed.firstDuplicate >= 0 && listed.firstDuplicate < n) add(CHECKS.participationMembers, false, `commitment ${listed.commitments[listed.firstDuplicate]} is listed twice among the first ${n} members (again at position ${listed.firstDuplicate})`);
    else {
      let rebuilt: string;
      try {
        rebuilt = a.membersRoot(listed.commitments, n);
      } catch (e) {
        rebuilt = `(none: ${msg(e)})`;
      }
      if (rebuilt === root) add(CHECKS.participationMembers, true, `the first ${n} of ${listed.commitments.length} publicly admitted member(s) rebuild the participation root`);
      else add(CHECKS.participationMembers, false, `the first ${n} publicly admitted member(s) rebuild root ${rebuilt}, the chain commits ${root}: the round's members are not the admitted ones`);
    }
  }

  // Every accepted update came from a member: its proof verifies against the chain's root.
  const accepted = m.entries.filter((e) => e.status === 'accepted');
  if (root === ZERO_ROOT) {
    skip(CHECKS.uploadProofs, 'no participation root on chain to verify the proofs against');
    return { checked: 0, verified: 0, ms: 0 };
  }
  const rootN = BigInt(root);
  if (rootN >= SNARK_FIELD) {
    add(CHECKS.uploadProofs, false, `participation root ${root} is not a BN254 field element, so no proof can be checked against it`);
    return { checked: 0, verified: 0, ms: 0 };
  }
  const bad: string[] = [];
  if (accepted.length > n) bad.push(`${accepted.length} accepted updates from a round of ${n} member(s)`);
  const seen = new Set<bigint>();
  // One at a time: a Groth16 check is a pairing on the main thread, so running several at once gains nothing.
  const keys = accepted.length ? await proofKeys(a.keys) : undefined;
  const verifyMembership = accepted.length ? (await zk()).verifyMembership : null;
  const t0 = performance.now();
  /** null when the entry's proof verifies, else what is wrong with the entry. */
  const checkEntry = async (e: (typeof accepted)[number]): Promise<string | null> => {
    const nullifier = BigInt(e.client);
    if (nullifier >= SNARK_FIELD) return `nullifier ${e.client} is not a BN254 field element`;
    if (seen.has(nullifier)) return `nullifier ${e.client} has two accepted entries`;
    seen.add(nullifier);
    if (!e.proof || !verifyMembership) return `the entry of ${e.client} carries no proof`;
    const digest = hashToField(updateDigest(a.domain, { task, round: ev.round, baseHash: m.baseHash, updateHash: e.updateHash, numSamples: e.numSamples }));
    const ok = await verifyMembership({ membersRoot: rootN, task, round: ev.round, updateDigest: digest, nullifier }, e.proof, keys);
    return ok ? null : `the proof of ${e.client} (update ${e.updateHash}, ${e.numSamples} samples) does not verify against root ${root}, task ${task}, round ${ev.round}`;
  };
  const results: (string | null)[] = [];
  for (const e of accepted) results.push(await checkEntry(e));
  const ms = Math.round(performance.now() - t0);
  const verified = results.filter((r) => r === null).length;
  bad.push(...results.filter((r): r is string => r !== null));
  add(
    CHECKS.uploadProofs,
    bad.length === 0,
    bad.length ? `${verified} of ${accepted.length} proof(s) verified in ${ms} ms; ${list(bad)}` : `${verified} membership proof(s) verified against ${root} in ${ms} ms`,
  );
  return { checked: accepted.length, verified, ms };
}

/**
 * Check 5: fetch every accepted update named in the (hash-verified) manifest, then redo exactly what
 * the coordinator's close-round does: base = the parent checkpoint's bytes, createStrategy(m.strategy),
 * the deltas in ascending client order, encodeCheckpoint with the same fields; the keccak256 of the
 * result must be the committed checkpointHash.
 */
async function reaggregate(
  opts: AuditOptions,
  ev: RoundCommitted,
  m: RoundManifest | null,
  cp: Checkpoint | null,
  prev: Verified | null,
  add: (check: CheckName, ok: boolean, detail: string) => void,
  skip: (check: CheckName, detail: string) => void,
  domain: Eip712Domain,
): Promise<void> {
  if (!m) {
    skip(CHECKS.reaggregateUpdates, 'manifest unavailable, so the accepted updates are unknown');
    skip(CHECKS.reaggregateCheckpoint, 'manifest unavailable');
    return;
  }
  // The base: the checkpoint the chain names as parent, verified by hash.
  let base: Checkpoint | null = null;
  let baseProblem = '';
  if (prev && prev.hash === ev.parentHash) {
    base = prev.checkpoint;
    if (!base) baseProblem = `parent ${ev.parentHash} (${prev.label}) is unavailable or invalid`;
  } else {
    const f = await fetchVerified(opts.source, 'checkpoints', ev.parentHash);
    if (!f.ok) baseProblem = `parent checkpoint: ${f.detail}`;
    else {
      try {
        base = decodeCheckpoint(f.bytes);
      } catch (e) {
        baseProblem = `parent checkpoint ${ev.parentHash} does not decode: ${msg(e)}`;
      }
    }
  }
  const spec = base?.modelSpec ?? cp?.modelSpec;
  const byClient = m.entries
    .filter((e) => e.status === 'accepted')
    .map((e) => ({ client: e.client as string, updateHash: e.updateHash as Hex32, numSamples: e.numSamples, staleness: 0 }))
    // Ascending client order, as close-round folds them (the manifest's order already; sorted again
    // here so the auditor does not depend on it).
    .sort((a, b) => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
  // An async buffer folds in the arrival order its manifest records, each update scaled by its
  // staleness (the manifest's own checks tie the arrivals to exactly the accepted entries).
  const asyncCfg = m.async;
  const unmatched = [...byClient];
  const accepted = asyncCfg
    ? asyncCfg.arrivals.map((a) => {
        // Two clients may send identical bytes: each arrival takes one entry, never the same twice.
        const [e] = unmatched.splice(unmatched.findIndex((x) => x.updateHash === a.updateHash), 1);
        return { ...e!, staleness: a.staleness };
      })
    : byClient;
  if (!spec) {
    skip(CHECKS.reaggregateUpdates, 'no verified checkpoint gives the model, so update lengths are unknown');
    skip(CHECKS.reaggregateCheckpoint, baseProblem || 'base checkpoint unavailable');
    return;
  }
  const wm = weightManifest(spec);
  if (m.secure) {
    await reaggregateSecure({ opts, ev, m, secure: m.secure, base, baseProblem, params: wm.size, accepted, domain, add, skip, cp });
    return;
  }
  const cacheLimit = opts.maxCacheBytes ?? 256 * 1024 * 1024;
  const cache: (Float32Array | undefined)[] | null = accepted.length * wm.size * 4 <= cacheLimit ? [] : null;
  const bad: string[] = [];
  // The codec the manifest records (none: float32); every update is decoded with it, exactly as the coordinator did.
  const wire = m.wire ?? FLOAT32_WIRE;
  const size = wireBytes(wire, wm.size);
  for (const [i, a] of accepted.entries()) {
    const f = await fetchVerified(opts.source, 'updates', a.updateHash, 'manifest');
    if (!f.ok) {
      bad.push(`update of ${a.client}: ${f.detail}`);
      continue;
    }
    if (f.bytes.length !== size) {
      bad.push(`update ${a.updateHash} of ${a.client} has ${f.bytes.length} bytes, the model needs ${size} (${wire.codec})`);
      continue;
    }
    try {
      const delta = decodeWire(wire, f.bytes, wm.size);
      if (cache) cache[i] = delta;
    } catch (e) {
      bad.push(`update ${a.updateHash} of ${a.client} is not a ${wire.codec} delta: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  add(CHECKS.reaggregateUpdates, bad.length === 0, bad.length ? list(bad) : `${accepted.length} update(s) fetched; hashes and lengths match`);
  if (bad.length) {
    skip(CHECKS.reaggregateCheckpoint, 'accepted updates unavailable or corrupt');
    return;
  }
  if (!base) {
    skip(CHECKS.reaggregateCheckpoint, baseProblem);
    return;
  }
  const deltas = async function* (): AsyncGenerator<ClientDelta> {
    for (const [i, a] of accepted.entries()) {
      let delta = cache?.[i];
      if (!delta) {
        const f = await fetchVerified(opts.source, 'updates', a.updateHash, 'manifest');
        if (!f.ok) throw new Error(`update of ${a.client} changed between two reads: ${f.detail}`);
        delta = decodeWire(wire, f.bytes, wm.size);
      }
      yield { id: a.updateHash, delta: asyncCfg ? weighByStaleness(asyncCfg, delta, a.staleness) : delta, numSamples: a.numSamples };
    }
  };
  let bytes: Uint8Array;
  let strategyName: string;
  try {
    const strategy = createStrategy(m.strategy);
    strategyName = strategy.name;
    const result = await strategy.aggregate({ base: base.weights, serverState: base.serverState, deltas, count: accepted.length, round: { task: m.task, round: m.round, baseHash: m.baseHash } });
    bytes = encodeCheckpoint({
      task: opts.task,
      round: ev.round,
      parentHash: ev.parentHash,
      strategy: strategy.name,
      modelSpec: base.modelSpec,
      weights: result.weights,
      serverState: result.serverState,
    });
  } catch (e) {
    add(CHECKS.reaggregateCheckpoint, false, `re-aggregation with ${m.strategy.name} failed: ${msg(e)}`);
    return;
  }
  await compareCheckpoint(bytes, ev, cp, `${accepted.length} update(s) re-aggregated with ${strategyName} on ${ev.parentHash}`, add);
}

/**
 * Re-scores a validation-gain round (protocol/scoring/contribution.ts) from public bytes only: the
 * validation set the initial checkpoint committed, the archived updates, and the earlier rounds'
 * manifests and checkpoints; the recomputed block must equal the manifest's, value for value.
 */
async function rescore(a: {
  opts: AuditOptions;
  ev: RoundCommitted;
  m: RoundManifest;
  contribution: ContributionBlock;
  prev: Verified | null;
  genesisValidation: Hex32 | null;
  manifests: ReadonlyMap<number, RoundManifest>;
  add: (check: CheckName, ok: boolean, detail: string) => void;
}): Promise<void> {
  const fail = (detail: string) => a.add(CHECKS.reaggregateScores, false, detail);
  const c = a.contribution;
  if (!a.genesisValidation) return fail('the round scores by validation gain, but the initial checkpoint commits no validation set');
  if (c.validationHash !== a.genesisValidation) return fail(`the round scores on validation set ${c.validationHash}, the initial checkpoint committed ${a.genesisValidation}`);
  const vF = await fetchVerified(a.opts.source, 'validation', c.validationHash, 'the initial checkpoint');
  if (!vF.ok) return fail(vF.detail);
  const checkpoint = async (hash: string): Promise<Checkpoint> => {
    if (a.prev?.hash === hash && a.prev.checkpoint) return a.prev.checkpoint;
    const f = await fetchVerified(a.opts.source, 'checkpoints', hash, 'a manifest');
    if (!f.ok) throw new Error(f.detail);
    return decodeCheckpoint(f.bytes);
  };
  try {
    const validation = decodeValidationSet(vF.bytes);
    const base = await checkpoint(a.m.baseHash);
    const wm = weightManifest(base.modelSpec);
    const earlier = earlierItems(a.m.round, a.manifests);
    if (JSON.stringify(earlier) !== JSON.stringify(c.earlier)) {
      return fail(`the copy checks looked back at ${c.earlier.length} item(s); the earlier rounds' manifests give ${earlier.length}: ${JSON.stringify(earlier.slice(0, 3))}${earlier.length > 3 ? '…' : ''}`);
    }
    // scoreContributions reads every update three times (sketch, sum, leave-one-out): keep the
    // verified deltas, within the audit's cache budget, instead of fetching them three times.
    const cacheLimit = a.opts.maxCacheBytes ?? 256 * 1024 * 1024;
    const fetched = new Map<string, Float32Array>();
    const update = async (hash: string) => {
      const hit = fetched.get(hash);
      if (hit) return hit;
      const f = await fetchVerified(a.opts.source, 'updates', hash, 'a manifest');
      if (!f.ok) throw new Error(f.detail);
      const delta = decodeWire(a.m.wire ?? FLOAT32_WIRE, f.bytes, wm.size);
      if ((fetched.size + 1) * wm.size * 4 <= cacheLimit) fetched.set(hash, delta);
      return delta;
    };
    const updates = a.m.entries.filter((e) => e.status === 'accepted').map((e) => ({ client: e.client as string, updateHash: e.updateHash as string, numSamples: e.numSamples }));
    // On every core, as the coordinator scores (the same bits as inline).
    const evaluator = threadedEvaluator(base.modelSpec, validation);
    const again = await scoreContributions({
      evaluator,
      spec: base.modelSpec,
      base: base.weights,
      baseHash: a.m.baseHash,
      validation,
      validationHash: c.validationHash,
      updates,
      arrival: c.arrival,
      earlier,
      loadUpdate: update,
      async loadEarlier(item) {
        if (item.kind === 'update') return update(item.hash);
        const m = a.manifests.get(item.round) as RoundManifest;
        return aggregateStep((await checkpoint(m.checkpointHash)).weights, (await checkpoint(m.baseHash)).weights);
      },
    }).finally(() => evaluator.close());
    const bad: string[] = [];
    if (again.sketchSeed !== c.sketchSeed) bad.push(`sketch seed ${c.sketchSeed}, the round's hashes give ${again.sketchSeed}`);
    if (again.aggregateLoss !== c.aggregateLoss) bad.push(`aggregate loss ${c.aggregateLoss}, recomputed ${again.aggregateLoss}`);
    again.entries.forEach((e, i) => {
      const r = c.entries[i];
      const who = `update ${e.updateHash} of ${updates[i]?.client}`;
      if (!r) return;
      if (r.copyOf !== e.copyOf) bad.push(`${who}: copyOf ${r.copyOf ?? 'none'}, recomputed ${e.copyOf ?? 'none'}`);
      if (r.looLoss !== e.looLoss) bad.push(`${who}: leave-one-out loss ${r.looLoss}, recomputed ${e.looLoss}`);
      if (r.gainStdError !== e.gainStdError) bad.push(`${who}: gain standard error ${r.gainStdError}, recomputed ${e.gainStdError}`);
    });
    const copies = again.entries.filter((e) => e.copyOf).length;
    a.add(CHECKS.reaggregateScores, bad.length === 0, bad.length ? list(bad) : `${updates.length} update(s) re-scored on ${validation.n} validation samples (${copies} copies); aggregate loss ${again.aggregateLoss}`);
  } catch (e) {
    fail(`re-scoring failed: ${msg(e)}`);
  }
}

/** The re-aggregated checkpoint against the committed one, naming the first differing weight. */
async function compareCheckpoint(bytes: Uint8Array, ev: RoundCommitted, cp: Checkpoint | null, what: string, add: (check: CheckName, ok: boolean, detail: string) => void): Promise<void> {
  const h = await contentHash(bytes);
  if (h === ev.checkpointHash) {
    add(CHECKS.reaggregateCheckpoint, true, `${what} give ${h}`);
    return;
  }
  let where = '';
  if (cp) {
    const mine = decodeCheckpoint(bytes);
    const i = mine.weights.findIndex((w, k) => !Object.is(w, cp.weights[k]));
    if (i >= 0) where = `; first differing weight ${i}: checkpoint has ${cp.weights[i]}, re-aggregation gives ${mine.weights[i]}`;
    else where = '; the weights agree, the header or server state differs';
  }
  add(CHECKS.reaggregateCheckpoint, false, `re-aggregated checkpoint hashes to ${h}, chain says ${ev.checkpointHash}${where}`);
}

/**
 * Check 5 for a secure round: fetch the transcript the manifest names and the masked uploads, then
 * run the coordinator's own unmasking (protocol/secagg/transcript.ts) and decoding on them and
 * compare the checkpoint. Any altered artefact is named: a masked upload by its hash, a protocol
 * message by its sender and kind, the survivor list, or the transcript as a whole.
 */
async function reaggregateSecure(a: {
  opts: AuditOptions;
  ev: RoundCommitted;
  m: RoundManifest;
  secure: NonNullable<RoundManifest['secure']>;
  base: Checkpoint | null;
  baseProblem: string;
  params: number;
  accepted: { client: string; updateHash: Hex32 }[];
  domain: Eip712Domain;
  add: (check: CheckName, ok: boolean, detail: string) => void;
  skip: (check: CheckName, detail: string) => void;
  cp: Checkpoint | null;
}): Promise<void> {
  const { secure, add, skip } = a;
  const cfg = secure.config;
  const f = await fetchVerified(a.opts.source, 'transcripts', secure.transcriptHash, 'manifest');
  let transcript: SecureTranscript | null = null;
  let problem = '';
  if (!f.ok) problem = `transcript: ${f.detail}`;
  else {
    try {
      transcript = SecureTranscript.parse(JSON.parse(new TextDecoder().decode(f.bytes)));
    } catch (e) {
      problem = `transcript ${secure.transcriptHash} does not parse: ${msg(e)}`;
    }
  }
  const survivors = a.accepted.map((e) => e.client).sort();
  if (transcript) {
    if (transcript.task !== a.m.task || transcript.round !== a.m.round) problem = `transcript is of round ${transcript.task}/${transcript.round}`;
    else if (transcript.threshold !== secure.threshold) problem = `transcript threshold ${transcript.threshold}, manifest says ${secure.threshold}`;
    else if (canonicalJson(transcript.survivors) !== canonicalJson(survivors)) problem = 'survivors: the transcript\'s survivor list is not the manifest\'s accepted clients';
    else if (transcript.neighbours !== cfg.neighbours) problem = `transcript ring degree ${transcript.neighbours ?? 'complete'}, the task's is ${cfg.neighbours ?? 'complete'}`;
    else {
      // Both thresholds follow from the task and the advertisers: a lower one would have let fewer colluders unmask.
      const rule = secureRoundThresholds(cfg, transcript.adverts.length);
      if (transcript.threshold !== rule.shares) problem = `threshold ${transcript.threshold}: the task's rule gives ${rule.shares} for ${transcript.adverts.length} advertisers`;
      else if (survivors.length < rule.survivors) problem = `${survivors.length} survivors: the task's rule needs ${rule.survivors} of ${transcript.adverts.length} advertisers`;
      // Format 2: as many confirmations of the list as survivors are needed (checkTranscript counts them).
      else if (transcript.format === 2 && transcript.survivorThreshold !== rule.survivors) problem = `survivorThreshold ${transcript.survivorThreshold}: the task's rule gives ${rule.survivors} for ${transcript.adverts.length} advertisers`;
    }
  }
  if (secure.dim !== a.params) problem ||= `manifest dim ${secure.dim}, the model has ${a.params} parameters`;
  if (!(Math.abs(secureScale(cfg) - secure.scale) === 0)) problem ||= `manifest scale ${secure.scale} is not secureScale(config) = ${secureScale(cfg)}`;
  let checked: CheckedTranscript | null = null;
  let secrets: RecoveredSecrets | null = null;
  if (transcript && !problem) {
    try {
      checked = checkTranscript(a.domain, transcript);
      // Private rounds: every advert proves that an admitted member speaks through its signer.
      if (a.m.private) {
        const { verifyMembership } = await zk();
        const keys = await proofKeys(a.opts.zkKeysDir);
        for (const adv of transcript.adverts) {
          if (!(await verifyMembership(advertProofStatement(a.domain, a.m.private.membersRoot, adv), adv.proof, keys))) {
            throw new SecAggFault('BAD_PROOF', `the membership proof of the advert does not verify against members root ${a.m.private.membersRoot}`, `keys/${adv.client}`);
          }
        }
      }
      if (canonicalJson(checked.dropped) !== canonicalJson([...secure.dropped].sort())) throw new SecAggFault('BAD_TRANSCRIPT', `the transcript's dropouts are not the manifest's`, 'transcript');
      secrets = await recoverSecrets(a.domain, checked);
    } catch (e) {
      problem = e instanceof SecAggFault ? `${e.artefact}: ${e.code}: ${e.message}` : msg(e);
    }
  }
  add(CHECKS.reaggregateTranscript, !problem, problem || `transcript ${secure.transcriptHash}: ${transcript?.adverts.length} adverts, ${transcript?.bundles.length} share bundles, ${transcript?.format === 2 ? `${transcript.confirmations?.length} confirmations of the survivor list` : 'no consistency phase (format 1)'}, ${transcript?.reveals.length} reveals verified; ${secure.dropped.length} dropout(s); every secret rebuilt from ${secure.threshold}+ shares`);
  const sum = zeroWords(cfg.bits, a.params);
  const bad: string[] = [];
  const size = (a.params * cfg.bits) / 8;
  for (const e of a.accepted) {
    const u = await fetchVerified(a.opts.source, 'updates', e.updateHash, 'manifest');
    if (!u.ok) bad.push(`masked update of ${e.client}: ${u.detail}`);
    else if (u.bytes.length !== size) bad.push(`masked update ${e.updateHash} of ${e.client} has ${u.bytes.length} bytes, ${size} expected`);
    else addWords(sum, wordsFromBytes(cfg.bits, u.bytes.slice()));
  }
  add(CHECKS.reaggregateUpdates, bad.length === 0, bad.length ? list(bad) : `${a.accepted.length} masked update(s) fetched; hashes and lengths match`);
  if (bad.length || !checked || !secrets) {
    skip(CHECKS.reaggregateCheckpoint, bad.length ? 'masked updates unavailable or corrupt' : 'the transcript does not check out');
    return;
  }
  if (!a.base) {
    skip(CHECKS.reaggregateCheckpoint, a.baseProblem);
    return;
  }
  unmaskSum(checked, secrets, cfg.bits, sum);
  const mean = decodeMeanDelta(sum, cfg, secure.scale, checked.survivors.length);
  let bytes: Uint8Array;
  try {
    const strategy = createStrategy(a.m.strategy);
    const one = async function* (): AsyncGenerator<ClientDelta> {
      yield { id: 'secure-sum', delta: mean, numSamples: 1 };
    };
    const result = await strategy.aggregate({ base: a.base.weights, serverState: a.base.serverState, deltas: one, count: 1, round: { task: a.m.task, round: a.m.round, baseHash: a.m.baseHash } });
    bytes = encodeCheckpoint({ task: a.opts.task, round: a.ev.round, parentHash: a.ev.parentHash, strategy: strategy.name, modelSpec: a.base.modelSpec, weights: result.weights, serverState: result.serverState });
  } catch (e) {
    add(CHECKS.reaggregateCheckpoint, false, `secure re-aggregation with ${a.m.strategy.name} failed: ${msg(e)}`);
    return;
  }
  await compareCheckpoint(bytes, a.ev, a.cp, `the unmasked sum of ${a.accepted.length} masked update(s) decoded with scale ${secure.scale}`, add);
}
