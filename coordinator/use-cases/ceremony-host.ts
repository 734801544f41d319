/**
 * A Groth16 phase-2 setup ceremony hosted by the coordinator (docs/api.md, "/v1/ceremony"): the
 * ceremony is the same folder fl-ceremony works on (circuits/ceremony/ceremony.ts), kept at
 * <DATA_DIR>/ceremony. Contributors download the latest files, contribute on their own machine,
 * upload the new files and submit the contribution; the coordinator verifies each one on arrival
 * and accepts them only in turn (the library's folder lock: a contribution made on a file that is
 * no longer the latest is refused as STALE_CONTRIBUTION). Nothing here is trusted by anyone else:
 * `fl-ceremony fetch` + `fl-ceremony verify` re-check the whole ceremony from the files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CIRCUIT_NAMES, r1csPath, type CircuitName } from '../../circuits/artefacts.ts';
import { DEFAULT_PTAU } from '../../circuits/build.ts';
import { blockBeacon } from '../../circuits/ceremony/beacon-block.ts';
import { filePath, finalizeCeremony, initCeremony, loadTranscript, submitContribution, transcriptPath } from '../../circuits/ceremony/ceremony.ts';
import { CeremonyError, circuitsOf, latestFile, transcriptHash, type Contribution, type Transcript } from '../../circuits/ceremony/transcript.ts';
import {
  ContributionBody,
  FinalizeCeremonyBody,
  StartCeremonyBody,
  type AcceptedContribution,
  type CeremonyState,
  type UploadedZkey,
} from '../../protocol/ceremony-api.ts';
import { withDirLock } from '../../scripts/dir-lock.ts';
import { AppError, notFound } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { parseOr400 } from './parse.ts';

/** The largest zkey a contributor may upload (the membership key is about 3.2 MB; the claim key 0.2 MB). */
export const MAX_ZKEY_BYTES = 64 * 1024 * 1024;

export interface CeremonyHost {
  /** The ceremony folder: ceremony.json and files/<sha256>.zkey (keys/ after finalize). */
  dir: string;
  /** The phase-1 powers of tau every key is checked against. */
  ptau: string;
  /**
   * True when the folder is the finalized ceremony the coordinator's keys come from (FL_ZK_KEYS) and
   * not one it hosts: it is only published (state and files, for fl-audit and fl-ceremony fetch).
   */
  readOnly?: boolean;
  /** The coordinator's chain, for a beacon taken from one of its blocks (POST /v1/ceremony/finalize {beaconBlock}). */
  rpcUrl?: string;
  log?: Logger;
}

/** The hosted ceremony's settings; the ptau defaults as fl-ceremony's does (FL_PTAU, else the repository's file). */
export function ceremonyHost(o: { dir: string; ptau?: string; readOnly?: boolean; rpcUrl?: string; log?: Logger }): CeremonyHost {
  return { dir: o.dir, ptau: o.ptau ?? process.env.FL_PTAU ?? DEFAULT_PTAU, ...(o.readOnly ? { readOnly: true } : {}), ...(o.rpcUrl ? { rpcUrl: o.rpcUrl } : {}), ...(o.log ? { log: o.log } : {}) };
}

/**
 * The ceremony a coordinator publishes at /v1/ceremony: the one it hosts in <DATA_DIR>/ceremony once
 * started there; otherwise, with FL_ZK_KEYS set, the finalized ceremony its keys come from, read-only,
 * so that an auditor can fetch the ceremony a private task pins from the coordinator that runs it.
 */
export function publishedCeremony(dataDir: string, zkKeysDir: string | undefined, o: { rpcUrl?: string; log?: Logger } = {}): CeremonyHost {
  const hosted = join(dataDir, 'ceremony');
  if (zkKeysDir && !existsSync(transcriptPath(hosted))) return ceremonyHost({ dir: zkKeysDir, readOnly: true, ...o });
  return ceremonyHost({ dir: hosted, ...o });
}

const READ_ONLY = 'this coordinator publishes the finalized ceremony its keys come from (FL_ZK_KEYS) and hosts none of its own';

/** HTTP status of each refusal the ceremony library names; the other codes mean the hosted folder itself is broken (500, logged). */
const STATUS: Partial<Record<CeremonyError['code'], number>> = {
  STALE_CONTRIBUTION: 409,
  FINALIZED: 409,
  NOT_FINALIZED: 409,
  BAD_CONTRIBUTION: 422,
  MISSING_FILE: 422,
  FILE_MISMATCH: 422,
  BAD_BEACON: 400,
};

/** A CeremonyError as the API answers it (the folder's path left out of the message); anything else as it is. */
export function ceremonyAppError(h: CeremonyHost, e: unknown): unknown {
  if (!(e instanceof CeremonyError)) return e;
  const status = STATUS[e.code];
  return status ? new AppError(e.code, status, e.message.split(h.dir).join('<ceremony>')) : e;
}

async function mapped<T>(h: CeremonyHost, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw ceremonyAppError(h, e);
  }
}

/** The lock ceremony.ts takes around every transcript write; init takes it too, so two inits cannot race. */
const withLock = <T>(h: CeremonyHost, fn: () => Promise<T>): Promise<T> => withDirLock(join(h.dir, '.lock'), { staleMs: 10 * 60_000, waitMs: 10 * 60_000 }, fn);

function current(h: CeremonyHost): Transcript {
  if (!existsSync(transcriptPath(h.dir))) throw new AppError('NO_CEREMONY', 404, 'this coordinator hosts no ceremony: an operator starts one with POST /v1/ceremony');
  return loadTranscript(h.dir);
}

function stateOf(t: Transcript): CeremonyState {
  return {
    transcript: t,
    transcriptHash: transcriptHash(t),
    latest: Object.fromEntries(circuitsOf(t).map((n) => [n, latestFile(t, n)])),
    finalized: t.final !== null,
  };
}

/** GET /v1/ceremony. */
export function ceremonyState(h: CeremonyHost): CeremonyState {
  return stateOf(current(h));
}

/** POST /v1/ceremony (admin): the initial keys from the built circuits and the ptau. */
export async function startCeremony(h: CeremonyHost, body: unknown): Promise<CeremonyState> {
  const b = parseOr400(StartCeremonyBody, body ?? {}, 'body');
  if (h.readOnly) throw new AppError('CEREMONY_EXISTS', 409, `${READ_ONLY}: unset FL_ZK_KEYS to host a new one`);
  const circuits: readonly CircuitName[] = b.circuits ? CIRCUIT_NAMES.filter((n) => b.circuits!.includes(n)) : CIRCUIT_NAMES;
  for (const n of circuits) {
    if (!existsSync(r1csPath(n))) throw new AppError('CEREMONY_UNAVAILABLE', 503, `the coordinator has no build of the ${n} circuit: run npm run build:circuits on it`);
  }
  if (!existsSync(h.ptau)) throw new AppError('CEREMONY_UNAVAILABLE', 503, 'the coordinator has no powers-of-tau file (FL_PTAU)');
  mkdirSync(h.dir, { recursive: true });
  return withLock(h, async () => {
    if (existsSync(transcriptPath(h.dir))) throw new AppError('CEREMONY_EXISTS', 409, 'a ceremony is hosted already (GET /v1/ceremony); a coordinator hosts one');
    const t = await mapped(h, () => initCeremony({ dir: h.dir, ptau: h.ptau, circuits, log: (line) => h.log?.info({ ceremony: true }, line) }));
    h.log?.info({ circuits, transcript: transcriptHash(t) }, 'ceremony started');
    return stateOf(t);
  });
}

/** Every file the transcript names: initial keys, accepted contributions, beacon outputs. */
function namedFiles(t: Transcript): Set<string> {
  const files = new Set<string>();
  for (const c of Object.values(t.circuits)) files.add(c!.init);
  for (const c of t.contributions) for (const s of Object.values(c.circuits)) files.add(s!.zkey);
  for (const s of Object.values(t.beacon?.circuits ?? {})) files.add(s!.zkey);
  return files;
}

/**
 * GET /v1/ceremony/files/{sha256}: the path of a file the transcript names. Uploaded files that were
 * never accepted are not served: the coordinator publishes the ceremony, not whatever was sent to it.
 */
export function ceremonyFile(h: CeremonyHost, sha: string): string {
  const t = current(h);
  const p = filePath(h.dir, sha);
  if (!namedFiles(t).has(sha) || !existsSync(p)) throw notFound(`ceremony file ${sha}`);
  return p;
}

/**
 * PUT /v1/ceremony/contributions/{circuit}/{sha256}: stores a new zkey under its SHA-256, only if the
 * body hashes to the one in the path. The body streams to a temporary file, hashed on the way, and is
 * renamed into files/ only when it is complete and right. It is not verified here: the contribution
 * that names it is (POST /v1/ceremony/contributions).
 *
 * Files uploaded but never accepted (a refused or abandoned contribution) stay in files/: they are
 * content-addressed, so they cannot be mistaken for anything else, the transcript never names them,
 * and GET /v1/ceremony/files serves only files it names. An operator may delete them at any time.
 */
export async function receiveZkey(h: CeremonyHost, circuit: CircuitName, sha: string, body: Readable, declaredLength?: number): Promise<UploadedZkey> {
  const t = current(h);
  if (t.beacon || h.readOnly) {
    body.resume();
    throw new AppError('FINALIZED', 409, 'the ceremony is finalized: no more contributions');
  }
  if (!circuitsOf(t).includes(circuit)) {
    body.resume();
    throw new AppError('UNKNOWN_CIRCUIT', 404, `the ceremony covers ${circuitsOf(t).join(', ')}, not ${circuit}`);
  }
  if (declaredLength !== undefined && declaredLength > MAX_ZKEY_BYTES) {
    body.resume();
    throw new AppError('PAYLOAD_TOO_LARGE', 413, `body of ${declaredLength} bytes exceeds ${MAX_ZKEY_BYTES}`);
  }
  const files = join(h.dir, 'files');
  mkdirSync(files, { recursive: true });
  const tmp = join(files, `.upload-${randomBytes(6).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  let total = 0;
  let head = Buffer.alloc(0);
  try {
    const fh = await open(tmp, 'w');
    try {
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > MAX_ZKEY_BYTES) {
          body.resume();
          throw new AppError('PAYLOAD_TOO_LARGE', 413, `body exceeds ${MAX_ZKEY_BYTES} bytes`);
        }
        if (head.length < 4) head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
        hash.update(chunk);
        await fh.write(chunk);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const got = hash.digest('hex');
    if (got !== sha) throw new AppError('FILE_MISMATCH', 400, `the body hashes to ${got}, not to the ${sha} of the path`);
    if (head.toString('latin1') !== 'zkey') throw new AppError('NOT_A_ZKEY', 400, 'the body is not a zkey file (it does not start with "zkey")');
    const dest = filePath(h.dir, sha);
    const stored = !existsSync(dest);
    if (stored) await rename(tmp, dest);
    h.log?.info({ circuit, sha256: sha, bytes: total, stored }, 'ceremony file uploaded');
    return { circuit, sha256: sha, bytes: total, stored };
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * POST /v1/ceremony/contributions: checks a candidate against the chain as it stands (snarkjs
 * verifies every new file from the initial key) and appends it; one at a time, in turn.
 */
export async function acceptContribution(h: CeremonyHost, body: unknown): Promise<AcceptedContribution> {
  if (h.readOnly) throw new AppError('FINALIZED', 409, `${READ_ONLY}: it is finalized, no more contributions`);
  const c = parseOr400(ContributionBody, body, 'body');
  const t = current(h);
  if (t.beacon || h.readOnly) throw new AppError('FINALIZED', 409, 'the ceremony is finalized: no more contributions');
  for (const name of circuitsOf(t)) {
    const step = c.circuits[name];
    if (step && !existsSync(filePath(h.dir, step.zkey))) {
      throw new AppError('MISSING_FILE', 422, `${name}: file ${step.zkey} was not uploaded: PUT /v1/ceremony/contributions/${name}/${step.zkey} first`);
    }
  }
  const started = Date.now();
  const record: Contribution = await mapped(h, () => submitContribution(h.dir, h.ptau, c));
  // The transcript as this contribution left it (a later one, or the beacon, may be there already).
  const after = loadTranscript(h.dir);
  const hash = transcriptHash({ ...after, contributions: after.contributions.slice(0, record.index), beacon: null, final: null });
  h.log?.info({ index: record.index, name: record.name, ms: Date.now() - started, transcript: hash }, 'ceremony contribution accepted');
  return { contribution: record, transcriptHash: hash };
}

/** POST /v1/ceremony/finalize (admin): the beacon, then the final keys, verification keys and verifiers. */
export async function finalizeHostedCeremony(h: CeremonyHost, body: unknown): Promise<CeremonyState> {
  const b = parseOr400(FinalizeCeremonyBody, body, 'body');
  const t = current(h);
  if (t.beacon || h.readOnly) throw new AppError('FINALIZED', 409, 'the ceremony is finalized already');
  if (t.contributions.length === 0) throw new AppError('NO_CONTRIBUTIONS', 409, 'no contributions yet: a beacon alone is what the development keys are');
  let beacon: { value: string; source: string; block?: { chainId: number; number: number } };
  if ('beaconBlock' in b) {
    if (!h.rpcUrl) throw new AppError('NO_CHAIN', 409, 'this coordinator runs without a chain: give {"beacon", "source"} instead of beaconBlock');
    // Not waited for: the operator finalizes once the announced block is mined.
    beacon = await mapped(h, () => blockBeacon(h.rpcUrl!, b.beaconBlock));
  } else beacon = { value: b.beacon, source: b.source };
  const done = await mapped(h, () =>
    finalizeCeremony({
      dir: h.dir, ptau: h.ptau, beacon: beacon.value, source: beacon.source, ...(beacon.block ? { block: beacon.block } : {}),
      ...(b.iterationsExp !== undefined ? { iterationsExp: b.iterationsExp } : {}), log: (line) => h.log?.info({ ceremony: true }, line),
    }),
  );
  h.log?.info({ contributions: done.contributions.length, transcript: transcriptHash(done) }, 'ceremony finalized');
  return stateOf(done);
}
