/**
 * Taking part in a setup ceremony a coordinator hosts (coordinator/use-cases/ceremony-host.ts):
 * download the latest files, contribute on this machine, upload, submit; or mirror the whole
 * ceremony into a local folder that `fl-ceremony verify` checks offline.
 *
 * The coordinator is not trusted: the transcript's hash is recomputed, every downloaded file must
 * hash to its name, and the local folder is an ordinary ceremony folder (circuits/ceremony).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as snarkjs from 'snarkjs';
import type { z } from 'zod';
import { CIRCUIT_NAMES } from '../../circuits/artefacts.ts';
import { compileStandalone } from '../../contracts/compile.ts';
import { filePath, keysDir, makeContribution, sha256File, transcriptPath, VERIFIER_CONTRACT, verifierSource } from '../../circuits/ceremony/ceremony.ts';
import { CeremonyError, circuitsOf, latestFile, parseTranscript, transcriptBytes, transcriptHash, vkeyHash, type Contribution, type Transcript } from '../../circuits/ceremony/transcript.ts';
import { AcceptedContribution, CeremonyState, UploadedZkey } from '../../protocol/ceremony-api.ts';
import { CoordinatorError } from '../coordinator-api.ts';

export interface RemoteOptions {
  /** The coordinator's base URL, e.g. http://127.0.0.1:8080. */
  coordinator: string;
  log?: (line: string) => void;
}

/** CeremonyError codes a coordinator's refusal is rethrown as, so that callers handle both alike. */
const CEREMONY_CODES = new Set(['STALE_CONTRIBUTION', 'FINALIZED', 'NOT_FINALIZED', 'BAD_CONTRIBUTION', 'MISSING_FILE', 'FILE_MISMATCH', 'BAD_BEACON']);

async function refusal(res: Response, what: string): Promise<Error> {
  const text = await res.text();
  let code = 'HTTP_ERROR';
  let message = `HTTP ${res.status} for ${what}`;
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === 'string') code = e.code;
    if (typeof e?.message === 'string') message = e.message;
  } catch {
    // not JSON: keep the status
  }
  if (CEREMONY_CODES.has(code)) return new CeremonyError(code as CeremonyError['code'], `the coordinator refused ${what}: ${message}`);
  return new CoordinatorError(res.status, code, `${what}: ${message}`);
}

/** fetch, with an unreachable coordinator named as such (CoordinatorError UNREACHABLE). */
async function request(o: RemoteOptions, path: string, what: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(new URL(path, o.coordinator), init);
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new CoordinatorError(0, 'UNREACHABLE', `${what}: ${o.coordinator} did not answer (${cause ?? (e as Error).message})`);
  }
}

async function call<S extends z.ZodType>(o: RemoteOptions, schema: S, path: string, what: string, init: RequestInit = {}): Promise<z.infer<S>> {
  const res = await request(o, path, what, init);
  if (!res.ok) throw await refusal(res, what);
  const r = schema.safeParse(await res.json().catch(() => undefined));
  if (!r.success) throw new CoordinatorError(res.status, 'BAD_REPLY', `unexpected reply for ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The hosted ceremony's transcript, parsed and its hash recomputed (a coordinator that lies about it is caught here). */
export async function fetchTranscript(o: RemoteOptions): Promise<Transcript> {
  const s = await call(o, CeremonyState, '/v1/ceremony', 'the ceremony');
  const t = parseTranscript(s.transcript, `${o.coordinator}/v1/ceremony`);
  if (transcriptHash(t) !== s.transcriptHash) throw new CoordinatorError(200, 'BAD_REPLY', `the coordinator's transcript hashes to ${transcriptHash(t)}, not the ${s.transcriptHash} it states`);
  for (const n of circuitsOf(t)) {
    if (s.latest[n] !== latestFile(t, n)) throw new CoordinatorError(200, 'BAD_REPLY', `the coordinator states ${n}'s latest file as ${s.latest[n]}, the transcript says ${latestFile(t, n)}`);
  }
  return t;
}

/** Downloads one file into dir/files unless it is there with the right hash; refuses bytes that do not hash to its name. */
async function download(o: RemoteOptions, dir: string, sha: string): Promise<boolean> {
  const dest = filePath(dir, sha);
  if (existsSync(dest) && (await sha256File(dest)) === sha) return false;
  const res = await request(o, `/v1/ceremony/files/${sha}`, `file ${sha}`);
  if (!res.ok) throw await refusal(res, `file ${sha}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== sha) throw new CeremonyError('FILE_MISMATCH', `the coordinator sent file ${sha} with hash ${got}`);
  mkdirSync(join(dir, 'files'), { recursive: true });
  const tmp = `${dest}.download`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, dest);
  return true;
}

function writeTranscript(dir: string, t: Transcript): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${transcriptPath(dir)}.download`;
  writeFileSync(tmp, transcriptBytes(t));
  renameSync(tmp, transcriptPath(dir));
}

export interface ContributeRemoteOptions extends RemoteOptions {
  /** Your name or handle, recorded in the keys (printable ASCII, up to 64). */
  name: string;
  /** Extra entropy text; the contribution always mixes in 64 fresh random bytes. */
  entropy?: string;
  /** Where to lay the downloaded files out as a ceremony folder (kept); default a temporary folder, removed afterwards. */
  dir?: string;
}

/**
 * Contributes to a hosted ceremony: fetches the transcript and each circuit's latest file, makes the
 * contribution here (the entropy never leaves this call), uploads the new files, and submits it. The
 * coordinator verifies it on arrival; a contribution someone else got in before is refused as
 * STALE_CONTRIBUTION (a CeremonyError): run it again on the new latest files.
 */
export async function contributeRemote(o: ContributeRemoteOptions): Promise<Contribution> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'fl-ceremony-remote-'));
  try {
    const t = await fetchTranscript(o);
    if (t.beacon) throw new CeremonyError('FINALIZED', 'the ceremony is finalized: no more contributions');
    writeTranscript(dir, t);
    for (const n of circuitsOf(t)) {
      await download(o, dir, latestFile(t, n));
      o.log?.(`${n}: downloaded the latest key ${latestFile(t, n)}`);
    }
    const candidate = await makeContribution({ dir, name: o.name, ...(o.entropy !== undefined ? { entropy: o.entropy } : {}), ...(o.log ? { log: o.log } : {}) });
    for (const [n, step] of Object.entries(candidate.circuits)) {
      await call(o, UploadedZkey, `/v1/ceremony/contributions/${n}/${step!.zkey}`, `the upload of ${n} file ${step!.zkey}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: readFileSync(filePath(dir, step!.zkey)),
      });
      o.log?.(`${n}: uploaded ${step!.zkey}`);
    }
    const r = await call(o, AcceptedContribution, '/v1/ceremony/contributions', 'the contribution', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(candidate),
    });
    o.log?.(`contribution ${r.contribution.index} accepted; transcript ${r.transcriptHash}`);
    return r.contribution;
  } finally {
    if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

export interface FetchReport {
  dir: string;
  transcriptHash: `0x${string}`;
  contributions: number;
  finalized: boolean;
  /** Files the transcript names, and how many of them were downloaded (the others were there already). */
  files: number;
  downloaded: number;
}

/**
 * Mirrors a hosted ceremony into `dir`: ceremony.json and every file the transcript names (initial
 * keys, contributions, beacon outputs). For a finalized ceremony it also writes keys/ from the final
 * keys as `fl-ceremony finalize` leaves them (the zkey, verification key and Solidity verifier, each
 * checked against the transcript, and the compiled verifier), so that FL_ZK_KEYS can name the folder.
 * `fl-ceremony verify --dir` then checks the whole ceremony offline.
 */
export async function fetchCeremony(o: RemoteOptions & { dir: string }): Promise<FetchReport> {
  const t = await fetchTranscript(o);
  const files = new Set<string>();
  for (const n of circuitsOf(t)) files.add(t.circuits[n]!.init);
  for (const c of t.contributions) for (const s of Object.values(c.circuits)) files.add(s!.zkey);
  for (const s of Object.values(t.beacon?.circuits ?? {})) files.add(s!.zkey);
  mkdirSync(o.dir, { recursive: true });
  let downloaded = 0;
  for (const sha of files) if (await download(o, o.dir, sha)) downloaded++;
  o.log?.(`${files.size} files (${downloaded} downloaded)`);
  if (t.final) await writeFinalKeys(o.dir, t);
  // The transcript last: a folder with a ceremony.json has every file that transcript names.
  writeTranscript(o.dir, t);
  return { dir: o.dir, transcriptHash: transcriptHash(t), contributions: t.contributions.length, finalized: t.final !== null, files: files.size, downloaded };
}

/** keys/ of a finalized ceremony: <name>.zkey, .vkey.json, <Contract>.sol (checked against the transcript) and <Contract>.json. */
async function writeFinalKeys(dir: string, t: Transcript): Promise<void> {
  mkdirSync(keysDir(dir), { recursive: true });
  for (const name of CIRCUIT_NAMES) {
    const fin = t.final?.[name];
    if (!fin) continue;
    const zkey = filePath(dir, fin.zkey);
    const vkey = await snarkjs.zKey.exportVerificationKey(zkey);
    if (vkeyHash(vkey) !== fin.vkeyHash) throw new CeremonyError('BAD_FINAL', `${name}: the final key's verification key hashes to ${vkeyHash(vkey)}, the transcript says ${fin.vkeyHash}`);
    const sol = await verifierSource(zkey, name);
    if (createHash('sha256').update(sol).digest('hex') !== fin.verifierSha256) throw new CeremonyError('BAD_FINAL', `${name}: the final key's verifier is not the transcript's`);
    copyFileSync(zkey, join(keysDir(dir), `${name}.zkey`));
    writeFileSync(join(keysDir(dir), `${name}.vkey.json`), JSON.stringify(vkey, null, 2) + '\n');
    const contract = VERIFIER_CONTRACT[name];
    writeFileSync(join(keysDir(dir), `${contract}.sol`), sol);
    writeFileSync(join(keysDir(dir), `${contract}.json`), JSON.stringify(await compileStandalone(`${contract}.sol`, sol, contract), null, 2) + '\n');
  }
}
