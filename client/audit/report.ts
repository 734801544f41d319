/**
 * The audit report: one row per check, grouped per committed round, plus the verdict. JSON-safe
 * (amounts are decimal strings), so `fl-audit --report FILE` writes it as it is.
 */

/** Every check the auditor makes, by the name findings use. */
export const CHECKS = {
  /** Exactly one TaskCreated event for the task (its initial checkpoint is round 1's parent). */
  taskCreated: 'task.created',
  /** The registry's latestCheckpoint/lastRound at the audited block agree with the last event. */
  taskHead: 'task.head',
  /** Every RoundCommitted/Claimed log decodes and its arguments pass their schema. */
  eventParse: 'event.parse',
  /** Round numbers strictly increase in log order. */
  eventOrder: 'event.order',
  /** The initial checkpoint's bytes exist and hash to the TaskCreated hash. */
  genesisBytes: 'genesis.bytes',
  /** The initial checkpoint decodes; its header names the task, round 0 and no parent. */
  genesisHeader: 'genesis.header',
  /** Private tasks: the keys proofs are checked with are the pinned ones; a ceremony's transcript re-verifies. */
  genesisZkKeys: 'genesis.zk-keys',
  /** Private tasks: the distributor's claim verifier runs the pinned claim key (bytecode compared). */
  genesisClaimVerifier: 'genesis.claim-verifier',
  /** 1. The checkpoint's bytes exist and hash to the event's checkpointHash. */
  checkpointBytes: 'checkpoint.bytes',
  /** 1. They decode and the header names this task and round. */
  checkpointHeader: 'checkpoint.header',
  /** 2. The event's parentHash is the previous round's checkpointHash (or the initial checkpoint). */
  parentChain: 'parent.chain',
  /** 2. The checkpoint header's own parentHash is the event's parentHash. */
  parentHeader: 'parent.header',
  /** 3. The manifest's bytes exist and hash to the event's manifestHash. */
  manifestBytes: 'manifest.bytes',
  /** 3. decodeManifest accepts them (schema, entry order, canonical form). */
  manifestDecode: 'manifest.decode',
  /** 3. verifyManifest finds nothing: scores, pro-rata split, sum, rewards root. */
  manifestVerify: 'manifest.verify',
  /** 3. The manifest's task, round, checkpointHash, baseHash (and strategy) match the event and checkpoint. */
  manifestEvent: 'manifest.event',
  /** 3. The manifest's rewardsRoot is the event's rewardsRoot. */
  manifestRewardsRoot: 'manifest.rewardsRoot',
  /** 3. The manifest's allocated amount is the event's reward. */
  manifestAllocated: 'manifest.allocated',
  /**
   * 3b. A private manifest's members root is the event's (non-zero) participationRoot; a public
   * round's participationRoot is zero.
   */
  participationRoot: 'participation.root',
  /**
   * 3b. (private rounds) The first `private.members` commitments the content source lists as publicly
   * admitted rebuild the participationRoot (Lean IMT, Poseidon): nobody behind the root was admitted
   * in secret. Skipped, without failing the audit, when the source cannot list members (a directory).
   */
  participationMembers: 'participation.members',
  /**
   * 3b. (private rounds) Every accepted entry's Groth16 membership proof verifies against the
   * participationRoot, the task, the round, its nullifier and the EIP-712 digest of its Update;
   * nullifiers are unique and BN254 field elements.
   */
  uploadProofs: 'proofs.upload',
  /** 4. The distributor's roundRewards(task, round) holds the event's root and reward. */
  rewardsDistributor: 'rewards.distributor',
  /** 4. Claimed and PrivateClaimed events of the round sum to no more than its reward and to the distributor's claimed total. */
  claimsTotal: 'claims.total',
  /**
   * 4. Every Claimed (account, amount) is that account's entitlement in the manifest, once, and
   * isClaimed at its leaf index; every PrivateClaimed (nullifier, amount) is that nullifier's, once, and isNullifierSpent.
   */
  claimsEntitlement: 'claims.entitlement',
  /** 5. Every accepted update exists, hashes to its updateHash and has the model's length. */
  reaggregateUpdates: 'reaggregate.updates',
  /** 5. Re-aggregating them on the parent checkpoint gives checkpointHash, bit for bit. */
  reaggregateCheckpoint: 'reaggregate.checkpoint',
  /**
   * 5. Secure rounds: the protocol transcript exists, every message in it is signed by its sender,
   * and the revealed shares rebuild every committed secret the unmasking needs.
   */
  reaggregateTranscript: 'reaggregate.transcript',
  /**
   * 5. Validation-gain rounds: the validation set is the one the initial checkpoint committed, and
   * the copy checks and leave-one-out losses recomputed from it and the archived updates equal the
   * manifest's contribution block (whose scores manifest.verify re-derives).
   */
  reaggregateScores: 'reaggregate.scores',
} as const;
export type CheckName = (typeof CHECKS)[keyof typeof CHECKS];

export interface CheckResult {
  /** The round checked; 0 for the initial checkpoint, null for task-wide checks. */
  round: number | null;
  check: CheckName;
  ok: boolean;
  /**
   * Not run. With ok false: because something it needs failed already (that failure is the
   * finding). With ok true: because the content source cannot provide what it needs and the check is
   * optional (participation.members from a directory); it neither fails the audit nor is a finding.
   */
  skipped?: boolean;
  detail: string;
}

export type ColumnStatus = 'ok' | 'FAIL' | 'skip' | '-';

export interface RoundColumns {
  checkpoint: ColumnStatus;
  parent: ColumnStatus;
  manifest: ColumnStatus;
  /** participation.*: present for private rounds, and for a public round whose zero-root check did not pass. */
  participation?: ColumnStatus;
  /** proofs.*: present for private rounds. */
  proofs?: ColumnStatus;
  rewards: ColumnStatus;
  claims: ColumnStatus;
  reaggregated: ColumnStatus;
}

export interface ClaimRow {
  account: string;
  amount: string;
  blockNumber: number;
  txHash: string;
}

export interface PrivateClaimRow {
  /** The nullifier as an 0x-prefixed 32-byte word, as the manifest names it. */
  nullifier: string;
  /** Who was paid; not checked against anything (private by design, bound by the claim's proof on chain). */
  recipient: string;
  amount: string;
  blockNumber: number;
  txHash: string;
}

export interface RoundRow {
  round: number;
  blockNumber: number;
  logIndex: number;
  txHash: string;
  checkpointHash: string;
  parentHash: string;
  manifestHash: string;
  rewardsRoot: string;
  participationRoot: string;
  uri: string;
  /** The event's reward, in token base units. */
  reward: string;
  /** Accepted updates in the manifest (null when the manifest could not be read). */
  accepted: number | null;
  claims: ClaimRow[];
  /** PrivateClaimed events of the round (present for private rounds, or when there are any). */
  privateClaims?: PrivateClaimRow[];
  /** Private rounds: the membership proofs checked (proofs.upload), how many verified, and the time it took. */
  proofs?: { checked: number; verified: number; ms: number };
  checks: CheckResult[];
  columns: RoundColumns;
}

export interface AuditReport {
  format: 1;
  task: number;
  chainId: number;
  registry: string;
  distributor: string;
  fromBlock: number;
  toBlock: number;
  source: string;
  reaggregate: boolean;
  /** The initial checkpoint from TaskCreated (null without exactly one such event). */
  genesisHash: string | null;
  /** Checks of the initial checkpoint (round 0). */
  genesis: CheckResult[];
  rounds: RoundRow[];
  /** Task-wide checks (round null). */
  taskChecks: CheckResult[];
  /** Every check, in the order made. */
  checks: CheckResult[];
  /** The checks that failed (skipped ones excluded: each sits behind a finding, or is optional). */
  findings: CheckResult[];
  pass: boolean;
  startedAt: string;
  durationMs: number;
}

const GROUPS: Record<keyof RoundColumns, readonly string[]> = {
  checkpoint: ['checkpoint.', 'genesis.'],
  parent: ['parent.', 'event.order'],
  manifest: ['manifest.'],
  participation: ['participation.'],
  proofs: ['proofs.'],
  rewards: ['rewards.'],
  claims: ['claims.'],
  reaggregated: ['reaggregate.'],
};

/** Checks only private rounds get: their presence makes a round's private columns show. */
const PRIVATE_ONLY: readonly string[] = [CHECKS.participationMembers, CHECKS.uploadProofs];

/**
 * A column's verdict over its checks: FAIL if any failed, skip if any was skipped, ok, or '-' for none.
 * The participation and proofs columns are left out of a public round whose zero participation root
 * checked out (so a public task's report keeps the six columns it always had).
 */
export function columnsOf(checks: readonly CheckResult[]): RoundColumns {
  const col = (prefixes: readonly string[]): ColumnStatus => {
    const mine = checks.filter((c) => prefixes.some((p) => c.check.startsWith(p)));
    if (mine.length === 0) return '-';
    if (mine.some((c) => !c.ok && !c.skipped)) return 'FAIL';
    if (mine.some((c) => c.skipped)) return 'skip';
    return 'ok';
  };
  const isPrivate = checks.some((c) => PRIVATE_ONLY.includes(c.check));
  const participation = col(GROUPS.participation);
  const proofs = col(GROUPS.proofs);
  return {
    checkpoint: col(GROUPS.checkpoint),
    parent: col(GROUPS.parent),
    manifest: col(GROUPS.manifest),
    ...(participation !== '-' && (isPrivate || participation !== 'ok') ? { participation } : {}),
    ...(proofs !== '-' ? { proofs } : {}),
    rewards: col(GROUPS.rewards),
    claims: col(GROUPS.claims),
    reaggregated: col(GROUPS.reaggregated),
  };
}

/** "round 3 [manifest.bytes]: manifest hash mismatch: bytes hash to 0x…, chain says 0x…". */
export function formatFinding(c: CheckResult): string {
  const where = c.round === null ? 'task' : c.round === 0 ? 'round 0 (initial checkpoint)' : `round ${c.round}`;
  return `${where} [${c.check}]: ${c.detail}`;
}

/** The last line of the CLI's output. */
export function summaryLine(r: Pick<AuditReport, 'task' | 'rounds' | 'pass' | 'findings'>): string {
  return `audit: task=${r.task} rounds=${r.rounds.length} ${r.pass ? 'pass' : 'FAIL'} findings=${r.findings.length}`;
}

/**
 * The per-round table: round, checkpoint ok, parent ok, manifest ok, (participation ok, proofs ok:
 * only when some round is private,) rewards ok, claims ok, reaggregated, reward, claimed (count).
 */
export function formatTable(r: AuditReport): string {
  const withPrivate = r.rounds.some((row) => row.columns.participation !== undefined || row.columns.proofs !== undefined);
  const head = ['round', 'checkpoint', 'parent', 'manifest', ...(withPrivate ? ['participation', 'proofs'] : []), 'rewards', 'claims', 'reaggregated', 'reward', 'claimed', 'checkpointHash'];
  const rows: string[][] = [];
  const g = columnsOf(r.genesis);
  rows.push(['0', g.checkpoint, '-', '-', ...(withPrivate ? ['-', '-'] : []), '-', '-', '-', '-', '-', short(r.genesisHash)]);
  for (const row of r.rounds) {
    const c = row.columns;
    const all = [...row.claims, ...(row.privateClaims ?? [])];
    const claimed = all.reduce((s, x) => s + BigInt(x.amount), 0n);
    rows.push([
      String(row.round),
      c.checkpoint,
      c.parent,
      c.manifest,
      ...(withPrivate ? [c.participation ?? '-', c.proofs ?? '-'] : []),
      c.rewards,
      c.claims,
      c.reaggregated,
      row.reward,
      `${claimed} (${all.length})`,
      short(row.checkpointHash),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => (x[i] ?? '').length)));
  const numeric = new Set([head.indexOf('reward'), head.indexOf('claimed')]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

function short(h: string | null): string {
  return h ? `${h.slice(0, 12)}…` : '-';
}
