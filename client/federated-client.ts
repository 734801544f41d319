import type { Signer } from 'ethers';
import { contentHash, encodeFloat32, signRegistration, signUpdate, type Checkpoint, type Round, type Task } from '../protocol/index.ts';
import { CoordinatorApi, CoordinatorError } from './coordinator-api.ts';
import { trainLocal, type LabelledData, type TrainProgress } from './tf/trainer.ts';
import { httpUploader } from './upload/http-uploader.ts';
import { queueUploader } from './upload/queue-uploader.ts';
import type { Uploader } from './upload/uploader.ts';

export type UploadMode = { mode: 'http' } | { mode: 'queue'; redisUrl: string; prefix?: string };

export interface FederatedClientOptions {
  coordinatorUrl: string;
  /** The data owner's wallet: signs registration and every update. */
  wallet: Signer;
  upload?: UploadMode;
  /** Poll interval while waiting for rounds and decisions. */
  pollMs?: number;
}

export interface ContributeResult {
  round: number;
  updateHash: string;
  jobId: string;
  numSamples: number;
  loss: number;
  via: 'http' | 'queue';
}

export type UpdateDecision = { status: 'accepted' } | { status: 'rejected'; code: string; reason: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The data owner's side of a round: fetch the base checkpoint (hash-checked), train locally on
 * private data, sign the delta with EIP-712 and upload it. The data never leaves this process.
 */
export class FederatedClient {
  readonly api: CoordinatorApi;
  private readonly uploader: Uploader;
  private readonly checkpoints = new Map<string, Checkpoint>();
  private readonly pollMs: number;

  constructor(private readonly opts: FederatedClientOptions) {
    this.api = new CoordinatorApi(opts.coordinatorUrl);
    const u = opts.upload ?? { mode: 'http' };
    this.uploader = u.mode === 'queue' ? queueUploader(u.redisUrl, u.prefix ?? 'fl') : httpUploader(this.api);
    this.pollMs = opts.pollMs ?? 250;
  }

  async address(): Promise<string> {
    return (await this.opts.wallet.getAddress()).toLowerCase();
  }

  /** Registers this wallet for a task (idempotent). */
  async register(task: number): Promise<void> {
    const t = await this.api.getTask(task);
    await this.api.register(task, await this.address(), await signRegistration(this.opts.wallet, t.eip712, task));
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

  /** Trains on `data` from the round's base and uploads the signed delta. */
  async contribute(args: { task: Task; round: Round; data: LabelledData; seed?: number; onProgress?: (p: TrainProgress) => void }): Promise<ContributeResult> {
    const { task, round } = args;
    const base = await this.checkpoint(round.baseHash);
    const trained = await trainLocal({ spec: task.modelSpec, baseWeights: base.weights, data: args.data, training: round.training, seed: args.seed ?? round.round, onProgress: args.onProgress });
    const bytes = encodeFloat32(trained.delta);
    const updateHash = await contentHash(bytes);
    const msg = { task: task.id, round: round.round, baseHash: round.baseHash, updateHash, numSamples: trained.numSamples };
    const signature = await signUpdate(this.opts.wallet, task.eip712, msg);
    const { jobId } = await this.uploader.upload({ ...msg, client: await this.address(), signature }, bytes);
    return { round: round.round, updateHash, jobId, numSamples: trained.numSamples, loss: trained.loss, via: this.uploader.kind };
  }

  /** Waits for the worker's verdict on an upload, read from the round status. */
  async waitForDecision(task: number, round: number, jobId: string, timeoutMs = 60_000): Promise<UpdateDecision> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const r = await this.api.getRound(task, round);
      if (r.acceptedUpdates.some((u) => u.jobId === jobId)) return { status: 'accepted' };
      const rej = r.rejections.find((x) => x.jobId === jobId);
      if (rej) return { status: 'rejected', code: rej.code, reason: rej.reason };
      await sleep(this.pollMs);
    }
    throw new CoordinatorError(0, 'DECISION_TIMEOUT', `no decision on job ${jobId} within ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    await this.uploader.close();
  }
}
