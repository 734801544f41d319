import type { Signer } from 'ethers';
import { contentHash, decodeWire, encodeFloat32, encodeWire, roundingSource, signRegistration, signUpdate, updateDigest, type Checkpoint, type Round, type Task, type UpdateMessage } from '../protocol/index.ts';
import { hashToField, MembersTree, nullifierOf, proveMembership, toBytes32, verifyMembership, type Identity } from '../protocol/zk/index.ts';
import { advertProofStatement, type KeyAdvert } from '../protocol/secagg/index.ts';
import { CoordinatorApi, CoordinatorError } from './coordinator-api.ts';
import { trainLocal, type LabelledData, type TrainProgress } from './tf/trainer.ts';
import { httpUploader } from './upload/http-uploader.ts';
import { queueUploader } from './upload/queue-uploader.ts';
import type { Uploader } from './upload/uploader.ts';
import type { RedisClusterSettings } from '../protocol/redis-target.ts';
import { contributeSecurely } from './secure-round.ts';
import { decisionIn, type UpdateDecision, type UploadRef } from './decision.ts';

/**
 * How updates go up: over HTTP, or straight into the coordinator's Redis (one server by URL, or a
 * cluster by its nodes, as the coordinator's REDIS_URL or REDIS_CLUSTER_NODES), prefix = its REDIS_PREFIX.
 */
export type UploadMode = { mode: 'http' } | ({ mode: 'queue'; prefix?: string } & ({ redisUrl: string } | { redisCluster: RedisClusterSettings }));

export interface FederatedClientOptions {
  coordinatorUrl: string;
  /** The data owner's wallet: signs registration and every update of public tasks. */
  wallet?: Signer;
  /**
   * The member identity for private tasks (protocol/zk): proves membership in zero knowledge
   * instead of signing, so no address is ever sent.
   */
  identity?: Identity;
  upload?: UploadMode;
  /** Poll interval while waiting for rounds and decisions. */
  pollMs?: number;
  /** Talk to the coordinator through this API object instead of one made from coordinatorUrl. */
  api?: CoordinatorApi;
}

/** What contribute() has just finished, for progress output. */
export type ContributeStage = 'trained' | 'proved' | 'uploaded';

export interface ContributeResult {
  round: number;
  updateHash: string;
  jobId: string;
  numSamples: number;
  loss: number;
  via: 'http' | 'queue';
  /** Private tasks: the update's nullifier (0x 32-byte word), the name the round lists it under. */
  nullifier?: `0x${string}`;
}

export type { UpdateDecision } from './decision.ts';

export type FederatedClientErrorCode =
  /** A public task, and the client has no wallet to sign with. */
  | 'WALLET_REQUIRED'
  /** A private task, and the client has no identity to prove membership with. */
  | 'IDENTITY_REQUIRED'
  /** register() on a private task: members are admitted by the task admin, not registered. */
  | 'PRIVATE_TASK'
  /** A private task's round without a members root (opened with no members). */
  | 'NO_MEMBERS_ROOT'
  /** The coordinator's members list does not give the round's members root. */
  | 'MEMBERS_MISMATCH'
  /** The identity is not among the round's members. */
  | 'NOT_A_MEMBER';

/** The client cannot take part as asked: a missing key, or a private round it cannot prove for. */
export class FederatedClientError extends Error {
  constructor(
    readonly code: FederatedClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FederatedClientError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The delta in the task's wire codec. int8's stochastic rounding is seeded from the keccak of the
 * float32 delta itself: the same training gives the same bytes (a seeded demo stays reproducible),
 * and the draws depend on nothing anyone else controls.
 */
export async function encodeUpdate(task: Pick<Task, 'wire'>, delta: Float32Array): Promise<Uint8Array> {
  if (task.wire.codec === 'float32') return encodeFloat32(delta);
  if (task.wire.codec === 'topk') return encodeWire(task.wire, delta, () => 0); // deterministic: no rounding draws
  const seed = Number.parseInt((await contentHash(encodeFloat32(delta))).slice(2, 10), 16);
  return encodeWire(task.wire, delta, roundingSource(seed));
}

/**
 * Membership proofs in this process run one at a time: one proof already keeps every core busy
 * (snarkjs' worker threads), so several simulated clients in one process gain nothing by overlapping
 * and would only hold several witnesses in memory at once.
 */
let proving: Promise<unknown> = Promise.resolve();
function oneProofAtATime<T>(f: () => Promise<T>): Promise<T> {
  const run = proving.then(f, f);
  proving = run.catch(() => {});
  return run;
}

/**
 * The data owner's side of a round: fetch the base checkpoint (hash-checked), train locally on
 * private data, sign the delta with EIP-712 (or, in a private task, prove membership in zero
 * knowledge) and upload it. The data never leaves this process.
 */
export class FederatedClient {
  readonly api: CoordinatorApi;
  private readonly uploader: Uploader;
  private readonly checkpoints = new Map<string, Checkpoint>();
  /** Private tasks: the members tree of the last round seen, per task (the list only appends). */
  private readonly members = new Map<number, MembersTree>();
  /** Top-k tasks: what earlier deltas did not send (error feedback), by task, in this process's memory. */
  private readonly residuals = new Map<number, Float32Array>();
  private readonly pollMs: number;

  constructor(private readonly opts: FederatedClientOptions) {
    this.api = opts.api ?? new CoordinatorApi(opts.coordinatorUrl);
    const u = opts.upload ?? { mode: 'http' };
    this.uploader = u.mode === 'queue' ? queueUploader('redisCluster' in u ? { kind: 'cluster', ...u.redisCluster } : u.redisUrl, u.prefix ?? 'fl') : httpUploader(this.api);
    this.pollMs = opts.pollMs ?? 250;
  }

  private wallet(task: number): Signer {
    if (!this.opts.wallet) throw new FederatedClientError('WALLET_REQUIRED', `task ${task} is public: its updates are signed by a wallet, and this client has none`);
    return this.opts.wallet;
  }

  private identity(task: number): Identity {
    if (!this.opts.identity) throw new FederatedClientError('IDENTITY_REQUIRED', `task ${task} is private: this client needs a member identity (fl-client identity new) admitted by the task admin`);
    return this.opts.identity;
  }

  /** The wallet's address, lowercase (public tasks; WALLET_REQUIRED without a wallet). */
  async address(): Promise<string> {
    if (!this.opts.wallet) throw new FederatedClientError('WALLET_REQUIRED', 'this client has no wallet');
    return (await this.opts.wallet.getAddress()).toLowerCase();
  }

  /** Registers this wallet for a public task (idempotent); PRIVATE_TASK for a private one. */
  async register(task: number): Promise<void> {
    const t = await this.api.getTask(task);
    if (t.privacy === 'private') {
      throw new FederatedClientError('PRIVATE_TASK', `task ${task} is private: there is no registration, the task admin admits your identity commitment instead`);
    }
    const wallet = this.wallet(task);
    const challenge = await this.api.registrationChallenge(task, await this.address());
    await this.api.register(task, challenge, await signRegistration(wallet, t.eip712, challenge));
  }

  /** A checkpoint by hash, cached; the API checks the bytes against the hash. */
  async checkpoint(hash: string): Promise<Checkpoint> {
    let cp = this.checkpoints.get(hash);
    if (!cp) {
      cp = (await this.api.getCheckpoint(hash)).checkpoint;
      this.checkpoints.clear(); // keep one: the base of the round at hand
      this.checkpoints.set(hash, cp);
    }
    return cp;
  }

  /**
   * The members tree a private round's proofs are checked against: the first round.membersCount
   * commitments of the coordinator's list, whose root must be round.membersRoot. The list is
   * fetched only when the count differs from the last round's (it only ever appends: a grown list
   * extends the cached tree).
   */
  async membersTree(round: Round): Promise<MembersTree> {
    const { task } = round;
    const at = `round ${round.round} of task ${task}`;
    if (!round.membersRoot || round.membersCount < 1) throw new FederatedClientError('NO_MEMBERS_ROOT', `${at} has no members root: no member was admitted when it opened`);
    const cached = this.members.get(task);
    if (cached && cached.size === round.membersCount && cached.rootHex === round.membersRoot) return cached;
    this.members.delete(task);
    const list = await this.api.members(task);
    if (list.task !== task) throw new FederatedClientError('MEMBERS_MISMATCH', `asked for the members of task ${task}, the coordinator sent those of task ${list.task}`);
    if (list.commitments.length < round.membersCount) {
      throw new FederatedClientError('MEMBERS_MISMATCH', `the coordinator lists ${list.commitments.length} members of task ${task}, but opened ${at} with ${round.membersCount}: it is serving an inconsistent members list`);
    }
    let tree: MembersTree;
    if (cached && cached.size < round.membersCount) {
      tree = cached;
      tree.add(list.commitments.slice(cached.size, round.membersCount).map(BigInt));
    } else {
      tree = MembersTree.of(list.commitments.slice(0, round.membersCount).map(BigInt));
    }
    if (tree.rootHex !== round.membersRoot) {
      throw new FederatedClientError('MEMBERS_MISMATCH', `the first ${round.membersCount} members the coordinator lists for task ${task} have root ${tree.rootHex}, but ${at} names ${round.membersRoot}: the coordinator is serving an inconsistent members list`);
    }
    this.members.set(task, tree);
    return tree;
  }

  /**
   * Whether this client's identity is among a private round's members (the first membersCount
   * admitted when it opened): a member admitted later waits for the next round. Throws
   * IDENTITY_REQUIRED without an identity, and as membersTree() when the list does not check out.
   */
  async isRoundMember(round: Round): Promise<boolean> {
    const identity = this.identity(round.task);
    return (await this.membersTree(round)).indexOf(identity.commitment) >= 0;
  }

  /** Waits until the task has an open round numbered above `after` and returns it (null on timeout). */
  async waitForOpenRound(task: number, after = 0, timeoutMs = 60_000): Promise<Round | null> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const r = await this.api.currentRound(task);
      if (r && r.round > after && r.state === 'open') return r;
      await sleep(this.pollMs);
    }
    return null;
  }

  /**
   * Trains on `data` from the round's base and uploads the delta: signed by the wallet in a public
   * task; in a private task with a membership proof bound to this update and the round's nullifier
   * (no address, no signature). Membership is checked before training, so a member who cannot
   * take part learns it at once. onStage is told when training is done ('trained', with the
   * delta's size), when the membership proof is made (private tasks, 'proved') and when the upload
   * has been handed over ('uploaded').
   */
  async contribute(args: {
    task: Task;
    round: Round;
    data: LabelledData;
    seed?: number;
    onProgress?: (p: TrainProgress) => void;
    onStage?: (stage: ContributeStage, bytes: number) => void;
    /** Secure tasks: upload, then vanish without answering the unmasking (a simulated dropout). */
    leaveAfterUpload?: boolean;
    /** Open tasks: awaited between training and upload (a simulated slow device waits here). */
    beforeUpload?: () => Promise<void>;
  }): Promise<ContributeResult> {
    const { task, round } = args;
    if (task.secure) {
      // Secure tasks run the masking protocol around training (client/secure-round.ts); a private
      // one proves membership for its key advert and its masked upload instead of signing.
      const member = task.privacy === 'private' ? await this.secureMember(task, round) : undefined;
      const r = await contributeSecurely({
        api: this.api,
        ...(member ? { member } : { wallet: this.wallet(task.id) }),
        uploader: this.uploader,
        task,
        round,
        pollMs: this.pollMs,
        leaveAfterUpload: args.leaveAfterUpload,
        onStage: args.onStage,
        train: async () => {
          const base = await this.checkpoint(round.baseHash);
          const t = await trainLocal({ spec: task.modelSpec, baseWeights: base.weights, data: args.data, training: round.training, seed: args.seed ?? round.round, onProgress: args.onProgress });
          return { delta: t.delta, numSamples: t.numSamples, loss: t.loss };
        },
      });
      return { round: round.round, updateHash: r.updateHash, jobId: r.jobId, numSamples: r.numSamples, loss: r.loss, via: this.uploader.kind, ...(member ? { nullifier: member.nullifier } : {}) };
    }
    const isPrivate = task.privacy === 'private';
    let member: { identity: Identity; tree: MembersTree; path: ReturnType<MembersTree['pathOf']> } | undefined;
    if (isPrivate) {
      const identity = this.identity(task.id);
      const tree = await this.membersTree(round);
      let path: ReturnType<MembersTree['pathOf']>;
      try {
        path = tree.pathOf(identity.commitment);
      } catch {
        throw new FederatedClientError('NOT_A_MEMBER', `identity ${identity.commitment} is not among the ${round.membersCount} members of round ${round.round} of task ${task.id} (not admitted, or admitted after the round opened: ask the task admin, then join a later round)`);
      }
      member = { identity, tree, path };
    } else {
      this.wallet(task.id);
    }
    const base = await this.checkpoint(round.baseHash);
    const trained = await trainLocal({ spec: task.modelSpec, baseWeights: base.weights, data: args.data, training: round.training, seed: args.seed ?? round.round, onProgress: args.onProgress });
    const bytes = await this.encodeWithFeedback(task, trained.delta);
    const stage = (st: ContributeStage) => args.onStage?.(st, bytes.byteLength);
    stage('trained');
    await args.beforeUpload?.();
    const updateHash = await contentHash(bytes);
    const msg = { task: task.id, round: round.round, baseHash: round.baseHash, updateHash, numSamples: trained.numSamples };
    const done = { round: round.round, updateHash, numSamples: trained.numSamples, loss: trained.loss, via: this.uploader.kind };
    if (!member) {
      const signature = await signUpdate(this.wallet(task.id), task.eip712, msg);
      const { jobId } = await this.uploader.upload({ ...msg, client: await this.address(), signature }, bytes);
      stage('uploaded');
      return { ...done, jobId };
    }
    // The proof binds the EIP-712 digest of exactly this update: it cannot be re-attached to another delta.
    const { proof, nullifier } = await oneProofAtATime(() =>
      proveMembership({
        secret: member.identity.secret,
        path: member.path,
        membersRoot: member.tree.root,
        task: task.id,
        round: round.round,
        updateDigest: hashToField(updateDigest(task.eip712, msg)),
      }),
    );
    stage('proved');
    const nullifierHex = toBytes32(nullifier);
    const { jobId } = await this.uploader.uploadPrivate({ ...msg, nullifier: nullifierHex, proof }, bytes);
    stage('uploaded');
    return { ...done, jobId, nullifier: nullifierHex };
  }

  /**
   * The delta in the task's codec. Top-k: last rounds' unsent remainder is added first, and what this
   * encoding leaves out becomes the new remainder (error feedback), so every coordinate is sent
   * eventually. The remainder lives in this client's memory: a restarted client starts from zero.
   */
  private async encodeWithFeedback(task: Task, delta: Float32Array): Promise<Uint8Array> {
    if (task.wire.codec !== 'topk') return encodeUpdate(task, delta);
    const prev = this.residuals.get(task.id);
    const full = delta.slice();
    if (prev && prev.length === full.length) for (let i = 0; i < full.length; i++) full[i] = full[i]! + prev[i]!;
    const bytes = await encodeUpdate(task, full);
    const sent = decodeWire(task.wire, bytes, full.length);
    for (let i = 0; i < full.length; i++) full[i] = full[i]! - sent[i]!;
    this.residuals.set(task.id, full);
    return bytes;
  }

  /** A private member's proofs for a secure round: its advert and its masked upload, both under its round nullifier. */
  private async secureMember(task: Task, round: Round) {
    const identity = this.identity(task.id);
    const tree = await this.membersTree(round);
    let path: ReturnType<MembersTree['pathOf']>;
    try {
      path = tree.pathOf(identity.commitment);
    } catch {
      throw new FederatedClientError('NOT_A_MEMBER', `identity ${identity.commitment} is not among the ${round.membersCount} members of round ${round.round} of task ${task.id}`);
    }
    const prove = async (digest: string) => {
      const { proof, nullifier } = await oneProofAtATime(() => proveMembership({ secret: identity.secret, path, membersRoot: tree.root, task: task.id, round: round.round, updateDigest: hashToField(digest) }));
      return { proof, nullifier: toBytes32(nullifier) };
    };
    return {
      nullifier: toBytes32(nullifierOf(identity.secret, task.id, round.round)),
      proveAdvert: prove,
      proveUpload: (msg: UpdateMessage) => prove(updateDigest(task.eip712, msg)),
      verifyAdvert: (a: KeyAdvert) => verifyMembership(advertProofStatement(task.eip712, round.membersRoot!, a), a.proof),
    };
  }

  /**
   * Waits for the worker's verdict on an upload, read from the round status: by job id, and for a
   * private upload (pass the ContributeResult) by its nullifier, which the round lists as `client`.
   */
  async waitForDecision(task: number, round: number, upload: string | UploadRef, timeoutMs = 60_000, lookAhead = 0): Promise<UpdateDecision> {
    const ref: UploadRef = typeof upload === 'string' ? { jobId: upload } : upload;
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      // An async task accepts an update into the buffer open when it arrives, up to lookAhead
      // (its maxStaleness) rounds after the one it was trained for; refusals stay on that one.
      for (let r = round; r <= round + lookAhead; r++) {
        let status: Round;
        try {
          status = await this.api.getRound(task, r);
        } catch (e) {
          if (r > round && e instanceof CoordinatorError && e.status === 404) break;
          throw e;
        }
        const d = decisionIn(status, ref);
        // Async: say which buffer took it, so the caller waits for a later one before training again.
        if (d) return d.status === 'accepted' && lookAhead > 0 ? { ...d, round: r } : d;
      }
      await sleep(this.pollMs);
    }
    const who = ref.nullifier?.toLowerCase();
    const jobId = ref.jobId;
    throw new CoordinatorError(0, 'DECISION_TIMEOUT', `no decision on ${who ? `nullifier ${who}` : `job ${jobId}`} within ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    await this.uploader.close();
  }
}
