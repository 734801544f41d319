import assert from 'node:assert/strict';
import { Queue, type Job } from 'bullmq';
import type { BaseWallet } from 'ethers';
import { Redis } from 'ioredis';
import {
  bullPrefix,
  contentHash,
  encodeFloat32,
  hashToField,
  PRESET_MODELS,
  Prng,
  Rejection,
  Round,
  signRegistration,
  signUpdate,
  Task,
  toBytes32,
  updateDigest,
  UPDATE_JOB_OPTIONS,
  UPDATE_QUEUE,
  weightManifest,
  type AcceptedUpdate,
  type Eip712Domain,
  type RegistrationChallengeMessage,
  type UpdateJob,
} from '../../protocol/index.ts';
import { proveMembership, type Identity, type MembersTree } from '../../protocol/zk/index.ts';
import { putDeltaBlob } from '../../client/upload/queue-uploader.ts';
import { ADMIN, waitFor } from './env.ts';

/** Parameter count of the tiny 'iris-mlp' preset: 4x16 + 16 + 16x3 + 3. */
export const IRIS_PARAMS = weightManifest(PRESET_MODELS['iris-mlp']).size;

/** A reproducible small random delta (uniform in [-scale, scale]). */
export function randomDelta(size: number, seed: number, scale = 0.01): Float32Array {
  const rng = new Prng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * scale;
  return out;
}

/** Bytes of a float32 vector as they go on the wire. */
export const deltaBytes = (d: Float32Array): Uint8Array => encodeFloat32(d);

/** Which round an update is for, and the EIP-712 domain it is signed under. */
export interface UpdateTarget {
  task: number;
  round: number;
  baseHash: string;
  domain: Eip712Domain;
}

export interface BuildUpdateOptions {
  target: UpdateTarget;
  /** The wallet named as the update's client. */
  wallet: BaseWallet;
  /** The delta to send: a vector, or raw bytes (to send something that is not a whole vector). */
  delta: Float32Array | Uint8Array;
  numSamples?: number;
  /** Who signs (defaults to wallet): a different key forges the signature. */
  signer?: BaseWallet;
  /** Signed base hash (defaults to the target's). */
  baseHash?: string;
  /** Signed update hash (defaults to the keccak256 of the bytes). */
  updateHash?: string;
}

export interface BuiltUpdate {
  bytes: Uint8Array;
  client: `0x${string}`;
  updateHash: `0x${string}`;
  /** The job as a queue client would add it. */
  job: UpdateJob;
  /** The headers of an HTTP upload of it. */
  headers: Record<string, string>;
}

/** Signs an update (EIP-712) and packages it for both upload paths. */
export async function buildUpdate(o: BuildUpdateOptions): Promise<BuiltUpdate> {
  const bytes = o.delta instanceof Float32Array ? encodeFloat32(o.delta) : o.delta;
  const updateHash = (o.updateHash ?? (await contentHash(bytes))) as `0x${string}`;
  const baseHash = (o.baseHash ?? o.target.baseHash) as `0x${string}`;
  const numSamples = o.numSamples ?? 10;
  const msg = { task: o.target.task, round: o.target.round, baseHash, updateHash, numSamples };
  const signature = await signUpdate(o.signer ?? o.wallet, o.target.domain, msg);
  const client = o.wallet.address.toLowerCase() as `0x${string}`;
  return {
    bytes,
    client,
    updateHash,
    job: { ...msg, client, signature, via: 'queue', submittedAt: Date.now() },
    headers: {
      'x-fl-client': client,
      'x-fl-base-hash': baseHash,
      'x-fl-update-hash': updateHash,
      'x-fl-num-samples': String(numSamples),
      'x-fl-signature': signature,
      'content-type': 'application/octet-stream',
    },
  };
}

export interface BuildPrivateUpdateOptions {
  target: UpdateTarget;
  /** The member: its secret proves membership and derives the nullifier. */
  identity: Identity;
  /** The members tree the round was opened on (its root must be the round's membersRoot). */
  tree: MembersTree;
  delta: Float32Array | Uint8Array;
  numSamples?: number;
}

/** Proves membership for an update (Groth16, real snarkjs) and packages it for both upload paths. */
export async function buildPrivateUpdate(o: BuildPrivateUpdateOptions): Promise<BuiltUpdate> {
  const bytes = o.delta instanceof Float32Array ? encodeFloat32(o.delta) : o.delta;
  const updateHash = (await contentHash(bytes)) as `0x${string}`;
  const baseHash = o.target.baseHash as `0x${string}`;
  const numSamples = o.numSamples ?? 10;
  const msg = { task: o.target.task, round: o.target.round, baseHash, updateHash, numSamples };
  const { proof, nullifier } = await proveMembership({
    secret: o.identity.secret,
    path: o.tree.pathOf(o.identity.commitment),
    membersRoot: o.tree.root,
    task: o.target.task,
    round: o.target.round,
    updateDigest: hashToField(updateDigest(o.target.domain, msg)),
  });
  const client = toBytes32(nullifier);
  return {
    bytes,
    client,
    updateHash,
    job: { ...msg, nullifier: client, proof, via: 'queue', submittedAt: Date.now() },
    headers: {
      'x-fl-nullifier': client,
      'x-fl-base-hash': baseHash,
      'x-fl-update-hash': updateHash,
      'x-fl-num-samples': String(numSamples),
      'x-fl-proof': proof.join(','),
      'content-type': 'application/octet-stream',
    },
  };
}

export interface HttpReply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function reply(res: Response): Promise<HttpReply> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** PUTs an update over the coordinator's HTTP API. */
export async function uploadHttp(url: string, u: BuiltUpdate): Promise<HttpReply> {
  const res = await fetch(`${url}/v1/tasks/${u.job.task}/rounds/${u.job.round}/updates`, { method: 'PUT', headers: u.headers, body: u.bytes as Uint8Array<ArrayBuffer> });
  return reply(res);
}

/** Asks the coordinator for a registration challenge for this wallet (throws unless 201). */
export async function registrationChallenge(url: string, task: number, address: string): Promise<RegistrationChallengeMessage> {
  const res = await fetch(`${url}/v1/tasks/${task}/clients/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address }) });
  const r = await reply(res);
  if (r.status !== 201) throw new Error(`challenge: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as RegistrationChallengeMessage;
}

/** Registers a wallet for a task: a fresh challenge, signed (EIP-712 Registration), sent back. */
export async function registerWallet(url: string, task: number, wallet: BaseWallet, domain: Eip712Domain): Promise<HttpReply> {
  const challenge = await registrationChallenge(url, task, wallet.address);
  const signature = await signRegistration(wallet, domain, challenge);
  const res = await fetch(`${url}/v1/tasks/${task}/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ address: wallet.address, nonce: challenge.nonce, expiresAt: challenge.expiresAt, signature }),
  });
  return reply(res);
}

/** Admin POST with a JSON body; throws unless the status is the expected one. */
export async function adminPost(url: string, path: string, body: unknown, expect = 201): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
  const r = await reply(res);
  if (r.status !== expect) throw new Error(`POST ${path}: expected ${expect}, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * A public task with these wallets registered and its first round open, and the target updates of
 * that round are signed for; asserts that every registration answers 201.
 */
export async function openRoundFor(url: string, taskBody: Record<string, unknown>, wallets: readonly BaseWallet[], roundBody: Record<string, unknown>): Promise<{ task: Task; round: Round; target: UpdateTarget }> {
  // These helpers forge bodies byte by byte as float32 vectors (buildUpdate), so the task says
  // float32 unless the caller names a codec; int8 (the default for new tasks) has its own tests.
  const task = Task.parse(await adminPost(url, '/v1/tasks', { wire: { codec: 'float32' }, ...taskBody }));
  for (const w of wallets) {
    const r = await registerWallet(url, task.id, w, task.eip712);
    assert.equal(r.status, 201, `registering ${w.address}: ${JSON.stringify(r.body)}`);
  }
  const round = Round.parse(await adminPost(url, `/v1/tasks/${task.id}/rounds`, roundBody));
  return { task, round, target: { task: task.id, round: round.round, baseHash: round.baseHash, domain: task.eip712 } };
}

export async function getRound(url: string, task: number, round: number): Promise<Round> {
  const r = await reply(await fetch(`${url}/v1/tasks/${task}/rounds/${round}`));
  if (r.status !== 200) throw new Error(`GET round ${task}/${round}: ${r.status} ${JSON.stringify(r.body)}`);
  return Round.parse(r.body);
}

export type Decision = { status: 'accepted'; update: AcceptedUpdate; round: Round } | { status: 'rejected'; rejection: Rejection; round: Round };

/** Polls the round's public status until the worker has decided on the job. */
export async function decisionOf(url: string, task: number, round: number, jobId: string, timeoutMs = 10_000): Promise<Decision> {
  return waitFor(
    `decision on job ${jobId}`,
    async () => {
      const r = await getRound(url, task, round);
      const update = r.acceptedUpdates.find((u) => u.jobId === jobId);
      if (update) return { status: 'accepted', update, round: r } as const;
      const rejection = r.rejections.find((x) => x.jobId === jobId);
      if (rejection) return { status: 'rejected', rejection, round: r } as const;
      return null;
    },
    timeoutMs,
    20,
  );
}

/**
 * What a client with Redis access can do: write a blob under its blob key and add a job to the
 * update queue, exactly as client/upload/queue-uploader.ts does, but with full control over both.
 */
export function queueProducer(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const queue = new Queue(UPDATE_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
  return {
    queue,
    redis,
    putBlob(client: string, updateHash: string, bytes: Uint8Array): Promise<void> {
      return putDeltaBlob(redis, prefix, client, updateHash, bytes);
    },
    /** Adds any data as an update job (with the protocol's job options); returns the job id. */
    async addJob(data: unknown): Promise<string> {
      const job = await queue.add('update', data, UPDATE_JOB_OPTIONS);
      return job.id as string;
    },
    /** Blob plus job: the normal queue upload of a built update. */
    async upload(u: BuiltUpdate): Promise<string> {
      await this.putBlob(u.client, u.updateHash, u.bytes);
      return this.addJob(u.job);
    },
    getJob(id: string): Promise<Job | undefined> {
      return queue.getJob(id);
    },
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}
export type QueueProducer = ReturnType<typeof queueProducer>;
