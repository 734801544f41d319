/**
 * The file handling both ceremony folders share (phase 2: ceremony.ts, ceremony.json and
 * files/<sha256>.zkey; phase 1: phase1.ts, ptau.json and files/<sha256>.ptau): files held by their
 * SHA-256, a transcript read as JSON with a named error, and written whole or not at all.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CeremonyError } from './transcript.ts';

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The JSON in transcript file `p`; `missing` is the message when there is none. Throws BAD_TRANSCRIPT. */
export function readTranscriptJson(p: string, missing: string): unknown {
  if (!existsSync(p)) throw new CeremonyError('BAD_TRANSCRIPT', missing);
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new CeremonyError('BAD_TRANSCRIPT', `${p} is not JSON: ${(e as Error).message}`);
  }
}

/** Writes `data` to `p` through a temporary name and a rename, so a reader never sees half of it. */
export function writeAtomically(p: string, data: string | Uint8Array): void {
  const tmp = `${p}.tmp-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, data);
  renameSync(tmp, p);
}

/** Moves a finished file to `pathOf(its SHA-256)` (dropping it when that exists already); returns the hash. */
export async function storeByHash(file: string, pathOf: (sha: string) => string): Promise<string> {
  const sha = await sha256File(file);
  const dest = pathOf(sha);
  mkdirSync(dirname(dest), { recursive: true });
  if (!existsSync(dest)) renameSync(file, dest);
  else rmSync(file, { force: true });
  return sha;
}

/** The path of a stored file, or MISSING_FILE naming `what` and the folder it should be in. */
export function needByHash(pathOf: (sha: string) => string, sha: string, what: string): string {
  const p = pathOf(sha);
  if (!existsSync(p)) throw new CeremonyError('MISSING_FILE', `${what}: file ${sha} is not in ${dirname(p)}`);
  return p;
}
