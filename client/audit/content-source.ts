import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { contentHash, HEX32_RE, MembersList, type Hex32 } from '../../protocol/index.ts';

/**
 * Where the auditor reads the bytes the chain names by keccak256: checkpoints, round manifests and
 * archived accepted updates. A source is never trusted: it only hands out bytes, and every byte string
 * is re-hashed by fetchVerified() before anything looks at it. A missing object or bytes that hash to
 * something else are findings of the audit; only a source that cannot be reached at all (network down,
 * directory gone) is an error (SourceUnavailableError).
 */
export type ContentKind = 'checkpoints' | 'manifests' | 'updates' | 'transcripts' | 'validation';

export type FetchResult = { found: true; bytes: Uint8Array } | { found: false; detail: string };

export interface ContentSource {
  /** Human-readable name, e.g. "directory /srv/fl/.data" or "coordinator http://host:8080". */
  readonly description: string;
  /** Throws SourceUnavailableError when the source cannot be used at all. */
  probe(): Promise<void>;
  /** The raw bytes stored under `hash` (lowercase 0x-hex), unverified; found: false when absent. */
  fetch(kind: ContentKind, hash: Hex32): Promise<FetchResult>;
  /**
   * A private task's admitted identity commitments, in admission order, as canonical decimal strings
   * (the order is the members tree's leaf order). null when this source cannot list members at all
   * (a directory holds none): the auditor then reports the rebuild of the members root as skipped.
   * Throws MembersListError when the source answers but gives no valid list (a finding), and
   * SourceUnavailableError when it does not answer. Unverified, like fetch(): the auditor rebuilds the
   * root from the list and compares it with the chain's participationRoot.
   */
  members?(task: number): Promise<string[] | null>;
  /**
   * A local folder holding the setup ceremony whose transcript hashes to `transcript` (what a private
   * task pins), copied from this source when it publishes that ceremony. Unverified, like fetch(): the
   * auditor re-verifies every contribution, the beacon and the final keys from the r1cs and the ptau.
   * `missing` says why there is none (none published, or another ceremony than the pinned one).
   */
  ceremony?(transcript: Hex32): Promise<{ dir: string } | { missing: string }>;
}

/** The source answered the members query, but with no usable list (a finding of the audit, not an error). */
export class MembersListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MembersListError';
  }
}

/** The source cannot be reached or read (not: an object is missing or corrupt, which is a finding). */
export class SourceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceUnavailableError';
  }
}

const KIND_NAME: Record<ContentKind, string> = { checkpoints: 'checkpoint', manifests: 'manifest', updates: 'update', transcripts: 'transcript', validation: 'validation set' };

export type VerifiedFetch =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; reason: 'missing' | 'mismatch' | 'bad-hash'; detail: string; actualHash?: Hex32 };

/**
 * Fetches `hash` from `source` and re-hashes the bytes. On success the bytes are exactly what the
 * hash names; otherwise `detail` says what was wrong, e.g.
 * "manifest hash mismatch: bytes hash to 0xab…, chain says 0xcd…" (`expectedBy` names who gave the hash).
 */
export async function fetchVerified(source: ContentSource, kind: ContentKind, hash: string, expectedBy = 'chain'): Promise<VerifiedFetch> {
  const what = KIND_NAME[kind];
  const h = hash.toLowerCase();
  if (!HEX32_RE.test(h)) return { ok: false, reason: 'bad-hash', detail: `${what} hash ${hash} is not a 32-byte hex hash` };
  const r = await source.fetch(kind, h as Hex32);
  if (!r.found) return { ok: false, reason: 'missing', detail: `${what} ${h} not available from ${source.description}: ${r.detail}` };
  const actual = await contentHash(r.bytes);
  if (actual !== h) {
    return { ok: false, reason: 'mismatch', actualHash: actual, detail: `${what} hash mismatch: bytes hash to ${actual}, ${expectedBy} says ${h}` };
  }
  return { ok: true, bytes: r.bytes };
}

/**
 * The coordinator's DATA_DIR layout: <dir>/<kind>/<first two hex digits>/<0x-hash>. It holds no
 * members lists (those live in the coordinator's Redis), so members() answers null.
 */
export function directorySource(dir: string): ContentSource {
  const root = resolve(dir);
  return {
    description: `directory ${root}`,
    async members() {
      return null;
    },
    async ceremony(transcript) {
      // A coordinator that hosted its ceremony keeps it in <DATA_DIR>/ceremony.
      const dir = join(root, 'ceremony');
      const { loadTranscript } = await import('../../circuits/ceremony/ceremony.ts');
      const { transcriptHash } = await import('../../circuits/ceremony/transcript.ts');
      let hash: string;
      try {
        hash = transcriptHash(loadTranscript(dir));
      } catch (e) {
        return { missing: `${dir}: ${(e as Error).message}` };
      }
      return hash === transcript ? { dir } : { missing: `${dir} holds ceremony ${hash}, not the pinned ${transcript}` };
    },
    async probe() {
      let s;
      try {
        s = await stat(root);
      } catch (e) {
        throw new SourceUnavailableError(`content directory ${root} cannot be read: ${(e as Error).message}`);
      }
      if (!s.isDirectory()) throw new SourceUnavailableError(`${root} is not a directory`);
    },
    async fetch(kind, hash) {
      // fetchVerified only passes well-formed lowercase hashes, so the path cannot escape the directory.
      if (!HEX32_RE.test(hash)) return { found: false, detail: 'malformed hash' };
      const path = join(root, kind, hash.slice(2, 4), hash);
      try {
        const b = await readFile(path);
        return { found: true, bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return { found: false, detail: `no file ${path}` };
        if (code === 'EISDIR') return { found: false, detail: `${path} is a directory` };
        throw new SourceUnavailableError(`cannot read ${path}: ${(e as Error).message}`);
      }
    },
  };
}

export interface CoordinatorSourceOptions {
  /** Per-request timeout in milliseconds (60,000). */
  timeoutMs?: number;
  /** Retries after a network error (2); an HTTP answer, even an error status, is never retried. */
  retries?: number;
}

/**
 * A coordinator's public routes GET /v1/checkpoints/:hash, /v1/manifests/:hash, /v1/updates/:hash,
 * and GET /v1/tasks/:task/members for private tasks. An HTTP error status (404, or the 500 a
 * coordinator answers for a corrupt file) means "not available" and becomes a finding; a coordinator
 * that does not answer at all is SourceUnavailableError.
 */
export function coordinatorSource(baseUrl: string, opts: CoordinatorSourceOptions = {}): ContentSource {
  let base: URL;
  try {
    base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    throw new SourceUnavailableError(`coordinator URL ${baseUrl} is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new SourceUnavailableError(`coordinator URL ${baseUrl} is not http(s)`);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const retries = opts.retries ?? 2;

  async function get(path: string): Promise<Response> {
    const url = new URL(path, base);
    let last: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        return await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      } catch (e) {
        last = e;
        if (attempt < retries) await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    const cause = last instanceof Error ? ((last.cause as Error | undefined)?.message ?? last.message) : String(last);
    throw new SourceUnavailableError(`coordinator ${base.href} did not answer GET ${url.pathname}: ${cause}`);
  }

  return {
    description: `coordinator ${base.href}`,
    async probe() {
      const res = await get('v1/health');
      await res.arrayBuffer().catch(() => undefined);
      // Degraded (503: its Redis is down) still serves the content store; anything else is not a coordinator.
      if (res.status !== 200 && res.status !== 503) throw new SourceUnavailableError(`coordinator ${base.href} answered ${res.status} to GET /v1/health`);
    },
    async fetch(kind, hash) {
      if (!HEX32_RE.test(hash)) return { found: false, detail: 'malformed hash' };
      const res = await get(`v1/${kind === 'validation' ? 'validation-sets' : kind}/${hash}`);
      let body: ArrayBuffer;
      try {
        body = await res.arrayBuffer();
      } catch (e) {
        throw new SourceUnavailableError(`coordinator ${base.href}: reading GET /v1/${kind === 'validation' ? 'validation-sets' : kind}/${hash} failed: ${(e as Error).message}`);
      }
      if (!res.ok) return { found: false, detail: `HTTP ${res.status}${errorText(body)}` };
      return { found: true, bytes: new Uint8Array(body) };
    },
    async ceremony(transcript) {
      const { fetchCeremony, fetchTranscript } = await import('../ceremony/remote.ts');
      const { transcriptHash } = await import('../../circuits/ceremony/transcript.ts');
      const remote = { coordinator: base.href };
      let published: string;
      try {
        published = transcriptHash(await fetchTranscript(remote));
      } catch (e) {
        if ((e as { code?: string }).code === 'UNREACHABLE') throw new SourceUnavailableError((e as Error).message);
        return { missing: `GET /v1/ceremony: ${(e as Error).message}` };
      }
      if (published !== transcript) return { missing: `it publishes ceremony ${published}, not the pinned ${transcript}` };
      // One folder per transcript: a second audit of the same federation downloads nothing again.
      const dir = join(tmpdir(), 'fl-audit-ceremonies', transcript);
      try {
        await fetchCeremony({ ...remote, dir });
      } catch (e) {
        if ((e as { code?: string }).code === 'UNREACHABLE') throw new SourceUnavailableError((e as Error).message);
        return { missing: `copying it failed: ${(e as Error).message}` };
      }
      return { dir };
    },
    async members(task) {
      const path = `v1/tasks/${task}/members`;
      const res = await get(path);
      let body: ArrayBuffer;
      try {
        body = await res.arrayBuffer();
      } catch (e) {
        throw new SourceUnavailableError(`coordinator ${base.href}: reading GET /${path} failed: ${(e as Error).message}`);
      }
      if (!res.ok) throw new MembersListError(`GET /${path} answered HTTP ${res.status}${errorText(body)}`);
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
      } catch {
        throw new MembersListError(`GET /${path} answered something that is not JSON`);
      }
      const r = MembersList.safeParse(json);
      if (!r.success) throw new MembersListError(`GET /${path}: not a members list: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      if (r.data.task !== task) throw new MembersListError(`GET /${path} answered the members of task ${r.data.task}`);
      if (r.data.count !== r.data.commitments.length) throw new MembersListError(`GET /${path} says ${r.data.count} members but lists ${r.data.commitments.length}`);
      return r.data.commitments;
    },
  };
}

/** ": CODE: message" of a coordinator's error body, or '' when the body is not one. */
function errorText(body: ArrayBuffer): string {
  try {
    const j = JSON.parse(new TextDecoder().decode(body)) as { error?: { code?: unknown; message?: unknown } };
    if (j.error && typeof j.error.message === 'string') return `: ${String(j.error.code)}: ${j.error.message}`;
  } catch {
    // not an error body; the status says enough
  }
  return '';
}
