import { z } from 'zod';
import { Address, Contributor, decodeCheckpoint, decodeManifest, contentHash, Hash32, MembersList, ProtocolError, RegistrationChallenge, Round, SecurePhase, StoredAudit, StoredEvaluation, Task, TaskId, type AuditSummary, type Checkpoint, type RoundEvaluation, type RoundManifest } from '../protocol/index.ts';
import { Confirmation, KeyAdvert } from '../protocol/secagg/messages.ts';

/** A coordinator answered with an error: carries its HTTP status and error code. */
export class CoordinatorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CoordinatorError';
  }
}

/** GET /v1/chain: where the coordinator commits (addresses lowercased). */
export const ChainInfoReply = z.object({
  chainId: z.number().int().positive(),
  rpcUrl: z.string().url(),
  registry: Address,
  distributor: Address,
  token: Address,
  fromBlock: z.number().int().min(0),
});
export type ChainInfoReply = z.infer<typeof ChainInfoReply>;

/** GET …/rounds/:round/secure: what a client needs to follow a secure round (parsed: the coordinator is not trusted). */
export const SecureRoundState = z.object({
  task: TaskId,
  round: z.number().int().min(1),
  state: z.string(),
  phase: SecurePhase,
  phaseDeadline: z.string(),
  threshold: z.number().int().nullable(),
  adverts: z.array(KeyAdvert),
  sharers: z.array(Contributor),
  survivors: z.array(Contributor).nullable(),
  /** From the unmask phase on: every survivor's signed confirmation of the survivor list. */
  confirmations: z.array(Confirmation).optional(),
  revealers: z.array(Contributor),
});
export type SecureRoundState = z.infer<typeof SecureRoundState>;

/** POST /v1/tasks/:task/members: how many commitments were new, the members now, and their root. */
export const AdmitMembersReply = z.object({
  task: TaskId,
  admitted: z.number().int().min(0),
  count: z.number().int().min(0),
  root: Hash32,
});
export type AdmitMembersReply = z.infer<typeof AdmitMembersReply>;

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;

const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** Parses a coordinator's answer: its error as a CoordinatorError, anything unexpected as BAD_REPLY. */
function parseReply<S extends z.ZodType>(schema: S, path: string, status: number, ok: boolean, text: string): z.infer<S> {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CoordinatorError(status, 'BAD_REPLY', `coordinator sent non-JSON (${status}) for ${path}`);
  }
  if (!ok) {
    const e = ErrorReply.safeParse(body);
    throw new CoordinatorError(status, e.success ? e.data.error.code : 'HTTP_ERROR', e.success ? e.data.error.message : `HTTP ${status} for ${path}`);
  }
  const r = schema.safeParse(body);
  if (!r.success) throw new CoordinatorError(status, 'BAD_REPLY', `unexpected reply for ${path}: ${r.error.issues[0]?.message}`);
  return r.data;
}

/** Under Node (fl-client), not in the join page, which bundles this module for the browser. */
const IN_NODE = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * A delta upload under Node: node:http writes the caller's view to the socket as it is, where fetch
 * (undici) copies a 4 MB body twice before sending it (measured: most of an HTTP uploader's CPU).
 * A connection failure rejects as fetch's does (TypeError 'fetch failed' with the cause), so
 * callers see one kind of error whichever way the bytes went. (node: modules are imported lazily:
 * the page's bundle keeps them external and never reaches this.)
 */
async function putBytesNode(url: URL, headers: Record<string, string>, body: Uint8Array): Promise<{ status: number; text: string }> {
  const http = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const failed = (e: unknown) => reject(new TypeError('fetch failed', { cause: e }));
    const req = http.request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(body.byteLength) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', failed);
    });
    req.on('error', failed);
    req.end(body);
  });
}

/** Typed REST calls to a coordinator; every answer is parsed, the coordinator is not trusted either. */
export class CoordinatorApi {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken?: string,
  ) {}

  private async call<S extends z.ZodType>(schema: S, path: string, init: RequestInit = {}, admin = false): Promise<z.infer<S>> {
    const headers = new Headers(init.headers);
    if (admin && this.adminToken) headers.set('authorization', `Bearer ${this.adminToken}`);
    if (init.body && typeof init.body === 'string') headers.set('content-type', 'application/json');
    const res = await fetch(new URL(path, this.baseUrl), { ...init, headers });
    return parseReply(schema, path, res.status, res.ok, await res.text());
  }

  getTask(task: number) {
    return this.call(Task, `/v1/tasks/${task}`);
  }
  listTasks() {
    return this.call(z.object({ tasks: z.array(Task) }), '/v1/tasks').then((r) => r.tasks);
  }
  createTask(body: unknown) {
    return this.call(Task, '/v1/tasks', { method: 'POST', body: JSON.stringify(body) }, true);
  }
  /** Stores a validation set (protocol/scoring/validation-set.ts bytes) for a validation-gain task. */
  putValidationSet(bytes: Uint8Array) {
    const reply = z.object({ hash: Hash32, samples: z.number().int(), features: z.number().int(), classes: z.number().int() });
    return this.call(reply, '/v1/validation-sets', { method: 'POST', body: bytes as unknown as RequestInit['body'], headers: { 'content-type': 'application/octet-stream' } }, true);
  }
  openRound(task: number, body: unknown = {}) {
    return this.call(Round, `/v1/tasks/${task}/rounds`, { method: 'POST', body: JSON.stringify(body) }, true);
  }
  getRound(task: number, round: number) {
    return this.call(Round, `/v1/tasks/${task}/rounds/${round}`);
  }
  /** The newest round, or null when the task has none yet. */
  async currentRound(task: number): Promise<Round | null> {
    try {
      return await this.call(Round, `/v1/tasks/${task}/rounds/current`);
    } catch (e) {
      if (e instanceof CoordinatorError && e.code === 'NO_ROUND') return null;
      throw e;
    }
  }
  /** A single-use challenge for `address` to sign (EIP-712 Registration), valid until its expiresAt. */
  registrationChallenge(task: number, address: string): Promise<RegistrationChallenge> {
    return this.call(RegistrationChallenge, `/v1/tasks/${task}/clients/challenge`, { method: 'POST', body: JSON.stringify({ address }) });
  }
  /** Registers the address with its signature over a challenge from registrationChallenge(). */
  register(task: number, challenge: RegistrationChallenge, signature: string) {
    const body = { address: challenge.address, nonce: challenge.nonce, expiresAt: challenge.expiresAt, signature };
    return this.call(z.object({ address: z.string(), created: z.boolean() }), `/v1/tasks/${task}/clients`, { method: 'POST', body: JSON.stringify(body) });
  }
  async secureState(task: number, round: number): Promise<SecureRoundState> {
    return this.call(SecureRoundState, `/v1/tasks/${task}/rounds/${round}/secure`);
  }

  /** Posts one signed secure-round message (keys, shares or reveal). */
  async postSecure(task: number, round: number, kind: 'keys' | 'shares' | 'consistency' | 'reveal', message: object): Promise<{ accepted: boolean; refusedShares?: { dealer: string; reason: string }[] }> {
    return this.call(z.object({ accepted: z.boolean(), refusedShares: z.array(z.object({ dealer: z.string(), reason: z.string() })).optional() }), `/v1/tasks/${task}/rounds/${round}/secure/${kind}`, { method: 'POST', body: JSON.stringify(message) });
  }

  /** A private task's members: every admitted identity commitment in admission order (decimal strings). */
  members(task: number): Promise<MembersList> {
    return this.call(MembersList, `/v1/tasks/${task}/members`);
  }
  /**
   * Admits identity commitments (field elements, as bigints or decimal strings) to a private task's
   * members tree, in this order; already admitted ones are skipped (admin).
   */
  admitMembers(task: number, commitments: readonly (bigint | string)[]): Promise<AdmitMembersReply> {
    return this.call(AdmitMembersReply, `/v1/tasks/${task}/members`, { method: 'POST', body: JSON.stringify({ commitments: commitments.map(String) }) }, true);
  }
  async uploadUpdate(task: number, round: number, headers: Record<string, string>, body: Uint8Array) {
    const schema = z.object({ jobId: z.string(), updateHash: z.string() });
    const path = `/v1/tasks/${task}/rounds/${round}/updates`;
    const all = { ...headers, 'content-type': 'application/octet-stream' };
    const url = new URL(path, this.baseUrl);
    if (IN_NODE && (url.protocol === 'http:' || url.protocol === 'https:')) {
      const r = await putBytesNode(url, all, body);
      return parseReply(schema, path, r.status, r.status >= 200 && r.status < 300, r.text);
    }
    return this.call(schema, path, {
      method: 'PUT',
      headers: all,
      // fetch sends the view's bytes; the DOM typing only names ArrayBuffer-backed views.
      body: body as Uint8Array<ArrayBuffer>,
    });
  }
  /** Downloads a checkpoint and checks that its bytes hash to the name it was asked by. */
  async getCheckpoint(hash: string): Promise<{ bytes: Uint8Array; checkpoint: Checkpoint }> {
    const res = await fetch(new URL(`/v1/checkpoints/${hash}`, this.baseUrl));
    if (!res.ok) throw new CoordinatorError(res.status, 'CHECKPOINT_UNAVAILABLE', `checkpoint ${hash}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const got = await contentHash(bytes);
    if (got !== hash) throw new CoordinatorError(res.status, 'CHECKPOINT_HASH_MISMATCH', `checkpoint ${hash} arrived with hash ${got}`);
    return { bytes, checkpoint: decodeCheckpoint(bytes) };
  }
  /** Reports the test-set evaluation of an aggregated round's checkpoint, shown on the dashboard (admin). */
  reportEvaluation(task: number, round: number, e: RoundEvaluation): Promise<StoredEvaluation> {
    return this.call(StoredEvaluation, `/v1/tasks/${task}/rounds/${round}/evaluation`, { method: 'POST', body: JSON.stringify(e) }, true);
  }
  /** Reports the outcome of an fl-audit run of the task, shown on the dashboard (admin). */
  reportAudit(task: number, a: AuditSummary): Promise<StoredAudit> {
    return this.call(StoredAudit, `/v1/tasks/${task}/audit`, { method: 'POST', body: JSON.stringify(a) }, true);
  }
  /** Where the coordinator commits: chain id, an RPC URL, registry, distributor and token (CoordinatorError NO_CHAIN when it has none). */
  chainInfo(): Promise<ChainInfoReply> {
    return this.call(ChainInfoReply, '/v1/chain');
  }
  /**
   * Downloads a round's contributions manifest, checks that its bytes hash to the name it was asked
   * by and decodes it (canonical form only). CoordinatorError MANIFEST_UNAVAILABLE,
   * MANIFEST_HASH_MISMATCH or BAD_MANIFEST otherwise.
   */
  async getManifest(hash: string): Promise<{ bytes: Uint8Array; manifest: RoundManifest }> {
    if (!HASH_RE.test(hash)) throw new CoordinatorError(0, 'BAD_HASH', `${hash} is not a 0x-prefixed 32-byte hash`);
    const name = hash.toLowerCase();
    const res = await fetch(new URL(`/v1/manifests/${name}`, this.baseUrl));
    if (!res.ok) throw new CoordinatorError(res.status, 'MANIFEST_UNAVAILABLE', `manifest ${name}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const got = await contentHash(bytes);
    if (got !== name) throw new CoordinatorError(res.status, 'MANIFEST_HASH_MISMATCH', `manifest ${name} arrived with hash ${got}`);
    try {
      return { bytes, manifest: decodeManifest(bytes) };
    } catch (e) {
      if (e instanceof ProtocolError) throw new CoordinatorError(res.status, 'BAD_MANIFEST', `manifest ${name}: ${e.message}`);
      throw e;
    }
  }
}
