/**
 * A phase-1 (powers of tau) ceremony in one folder: `ptau.json`, `files/<sha256>.ptau` and, once
 * finalized, `final.ptau` for phase 2 (`fl-ceremony init --ptau <folder>/final.ptau`). Contributions
 * go in turn on the latest file, offline, as in phase 2 (ceremony.ts); the beacon is a block hash
 * named in advance; `verifyPhase1` re-checks everything from the empty accumulator up.
 *
 * Cost on these machines (2 cores): a contribution takes ~6.5 s at power 12 and about four times
 * that per step up; preparing the final file for phase 2 is the slow part (~48 s at power 12, over
 * ten minutes at power 14), which is why the repository's development ptau is made once and kept.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Provider } from 'ethers';
import * as snarkjs from 'snarkjs';
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { withDirLock } from '../../scripts/dir-lock.ts';
import { checkBeaconBlock } from './beacon-block.ts';
import { needByHash, readTranscriptJson, sha256File, storeByHash, writeAtomically } from './folder-files.ts';
import { readPtauChain, type PtauEntry } from './ptau-chain.ts';
import { latestPtau, parsePtauTranscript, PTAU_CEREMONY_FORMAT, ptauTranscriptHash, type PtauContribution, type PtauTranscript } from './ptau-transcript.ts';
import { CeremonyError, ContributorName } from './transcript.ts';

export const ptauTranscriptPath = (dir: string): string => join(dir, 'ptau.json');
export const ptauFilePath = (dir: string, sha: string): string => join(dir, 'files', `${sha}.ptau`);
/** The phase-2 input a finalized phase 1 leaves. */
export const finalPtauPath = (dir: string): string => join(dir, 'final.ptau');

const scratch = (tag: string): string => join(tmpdir(), `fl-ptau-${tag}-${randomBytes(6).toString('hex')}.ptau`);
const hex = (b: unknown): string => Buffer.from(b as Uint8Array).toString('hex');
const lock = (dir: string, fn: () => Promise<void>): Promise<void> => withDirLock(join(dir, '.lock'), { staleMs: 30 * 60_000, waitMs: 30 * 60_000 }, fn);

export function loadPtauTranscript(dir: string): PtauTranscript {
  const p = ptauTranscriptPath(dir);
  return parsePtauTranscript(readTranscriptJson(p, `no phase-1 ceremony in ${dir} (${p} is missing): start one with fl-ceremony ptau init`), p);
}

const save = (dir: string, t: PtauTranscript): void => writeAtomically(ptauTranscriptPath(dir), canonicalJson(parsePtauTranscript(t)));
const store = (dir: string, file: string): Promise<string> => storeByHash(file, (sha) => ptauFilePath(dir, sha));
const need = (dir: string, sha: string, what: string): string => needByHash((h) => ptauFilePath(dir, h), sha, what);

async function emptyAccumulator(power: number, out: string): Promise<void> {
  const curve = await snarkjs.curves.getCurveFromName('bn128');
  await snarkjs.powersOfTau.newAccumulator(curve, power, out);
}

/** Starts a phase-1 ceremony for circuits of up to 2^power constraints. */
export async function initPhase1(o: { dir: string; power: number; log?: (line: string) => void }): Promise<PtauTranscript> {
  if (!Number.isInteger(o.power) || o.power < 1 || o.power > 28) throw new CeremonyError('BAD_TRANSCRIPT', `power must be an integer from 1 to 28, got ${o.power}`);
  if (existsSync(ptauTranscriptPath(o.dir))) throw new CeremonyError('BAD_TRANSCRIPT', `${o.dir} already holds a phase-1 ceremony`);
  mkdirSync(o.dir, { recursive: true });
  const out = scratch('init');
  await emptyAccumulator(o.power, out);
  const t: PtauTranscript = { format: PTAU_CEREMONY_FORMAT, curve: 'bn128', power: o.power, init: await store(o.dir, out), contributions: [], beacon: null, final: null };
  save(o.dir, t);
  o.log?.(`empty accumulator of power ${o.power}: ${t.init}`);
  return t;
}

/** Where the list snarkjs read from a file differs from the transcript's first records, or null. */
function listProblem(records: readonly { name: string; hash: string }[], entries: readonly PtauEntry[]): string | null {
  if (entries.length !== records.length) return `the file holds ${entries.length} contributions, the transcript ${records.length} at this point`;
  for (let i = 0; i < records.length; i++) {
    if (entries[i]!.hash !== records[i]!.hash) return `the file's contribution ${i + 1} (${entries[i]!.name}) is not the transcript's contribution ${i + 1} (${records[i]!.name})`;
  }
  return null;
}

/**
 * Adds a contribution on the latest file, in turn (folder lock), and checks it before recording it:
 * snarkjs must find in the new file every earlier contribution plus this one. The entropy is 64 fresh
 * random bytes (plus any text given) that live only in this call.
 */
export async function contributePhase1(o: { dir: string; name: string; entropy?: string; log?: (line: string) => void }): Promise<PtauContribution> {
  if (!ContributorName.safeParse(o.name).success) throw new CeremonyError('BAD_CONTRIBUTION', 'the name must be 1 to 64 printable ASCII characters');
  let record: PtauContribution | undefined;
  await lock(o.dir, async () => {
    const t = loadPtauTranscript(o.dir);
    if (t.beacon) throw new CeremonyError('FINALIZED', 'the phase-1 ceremony is finalized: no more contributions');
    const prev = latestPtau(t);
    const out = scratch('c');
    const hash = hex(await snarkjs.powersOfTau.contribute(need(o.dir, prev, 'latest file'), out, o.name, `${randomBytes(64).toString('hex')}${o.entropy ?? ''}`));
    const read = await readPtauChain(out);
    if (!read.ok) {
      rmSync(out, { force: true });
      throw new CeremonyError('BAD_CONTRIBUTION', `the new file does not verify: ${read.reason}`);
    }
    const problem = listProblem([...t.contributions, { name: o.name, hash }], read.entries);
    if (problem) {
      rmSync(out, { force: true });
      throw new CeremonyError('BAD_CONTRIBUTION', problem);
    }
    record = { index: t.contributions.length + 1, name: o.name, prev, file: await store(o.dir, out), hash };
    save(o.dir, { ...t, contributions: [...t.contributions, record] });
    o.log?.(`contribution ${record.index} (${o.name}): response hash ${hash}`);
  });
  return record!;
}

/** The beacon (a block hash named in advance), then the file prepared for phase 2 (`final.ptau`). */
export async function finalizePhase1(o: { dir: string; beacon: string; source: string; block?: { chainId: number; number: number }; iterationsExp?: number; log?: (line: string) => void }): Promise<PtauTranscript> {
  let out: PtauTranscript | undefined;
  await lock(o.dir, async () => {
    const t = loadPtauTranscript(o.dir);
    if (t.beacon) throw new CeremonyError('FINALIZED', 'the phase-1 ceremony is finalized already');
    if (t.contributions.length === 0) throw new CeremonyError('BAD_CONTRIBUTION', 'no contributions yet: a beacon alone is what the development ptau is');
    if (!/^0x[0-9a-f]{64}$/.test(o.beacon)) throw new CeremonyError('BAD_BEACON', `the beacon must be 0x and 64 lowercase hex digits (a block hash), got ${o.beacon}`);
    const iterationsExp = o.iterationsExp ?? 10;
    const prev = latestPtau(t);
    const file = scratch('beacon');
    const response = await snarkjs.powersOfTau.beacon(need(o.dir, prev, 'latest file'), file, 'beacon', o.beacon.slice(2), iterationsExp);
    if (response === false) throw new CeremonyError('BAD_BEACON', 'snarkjs refused the beacon');
    const hash = hex(response);
    const beacon = { prev, file: await store(o.dir, file), hash, source: o.source, value: o.beacon, iterationsExp, ...(o.block ? { block: o.block } : {}) };
    o.log?.(`beacon applied; preparing for phase 2 (the slow part)`);
    const prepared = scratch('final');
    await snarkjs.powersOfTau.preparePhase2(ptauFilePath(o.dir, beacon.file), prepared);
    const sha = await sha256File(prepared);
    renameSync(prepared, finalPtauPath(o.dir));
    out = { ...t, beacon, final: { sha256: sha } };
    save(o.dir, out);
    o.log?.(`final.ptau ${sha}`);
  });
  return out!;
}

export interface Phase1Report {
  ok: boolean;
  transcriptHash: `0x${string}`;
  power: number;
  contributors: { index: number; name: string; hash: string }[];
  beacon: { source: string; value: string; check?: string } | null;
  /** SHA-256 of final.ptau, the value a phase-2 transcript records. */
  final: string | null;
  failure?: { code: CeremonyError['code']; at: string; reason: string };
  checked: string[];
}

/**
 * Checks a phase-1 folder from the empty accumulator to final.ptau: the initial file is the one
 * snarkjs makes for this power (rebuilt here); every file is the one recorded; every contribution
 * file verifies and holds exactly the transcript's contributions so far; the beacon is the recorded
 * value (and, given an RPC node of its chain, the hash of the block it names); final.ptau verifies
 * and holds every contribution and the beacon.
 */
export async function verifyPhase1(o: { dir: string; provider?: Provider; log?: (line: string) => void }): Promise<Phase1Report> {
  const t = loadPtauTranscript(o.dir);
  const report: Phase1Report = {
    ok: false,
    transcriptHash: ptauTranscriptHash(t),
    power: t.power,
    contributors: t.contributions.map((c) => ({ index: c.index, name: c.name, hash: c.hash })),
    beacon: t.beacon ? { source: t.beacon.source, value: t.beacon.value } : null,
    final: t.final?.sha256 ?? null,
    checked: [],
  };
  const fail = (code: CeremonyError['code'], at: string, reason: string): Phase1Report => ({ ...report, failure: { code, at, reason } });
  const ok = (line: string): void => {
    report.checked.push(line);
    o.log?.(line);
  };
  if (t.beacon && o.provider) {
    const b = await checkBeaconBlock({ ...t.beacon, circuits: {} }, o.provider);
    if (b.checked && !b.ok) return fail('BAD_BEACON', 'beacon', b.detail);
    report.beacon!.check = b.detail;
    if (b.checked) ok(b.detail);
  }
  const rebuilt = scratch('reinit');
  try {
    await emptyAccumulator(t.power, rebuilt);
    if ((await sha256File(rebuilt)) !== t.init) return fail('WRONG_INIT', 'initial file', `the initial file is not snarkjs's empty accumulator of power ${t.power}`);
  } finally {
    rmSync(rebuilt, { force: true });
  }
  if (!existsSync(ptauFilePath(o.dir, t.init)) || (await sha256File(ptauFilePath(o.dir, t.init))) !== t.init) return fail('FILE_MISMATCH', 'initial file', `file ${t.init} is missing or altered`);
  ok('initial file rebuilt');
  const steps = t.contributions.map((c) => ({ at: `contribution ${c.index} (${c.name})`, step: c as { prev: string; file: string; hash: string }, upTo: c.index, beacon: false }));
  if (t.beacon) steps.push({ at: 'beacon', step: t.beacon, upTo: t.contributions.length + 1, beacon: true });
  const records = [...t.contributions.map((c) => ({ name: c.name, hash: c.hash })), ...(t.beacon ? [{ name: 'beacon', hash: t.beacon.hash }] : [])];
  let prev = t.init;
  for (const s of steps) {
    if (s.step.prev !== prev) return fail('BAD_CONTRIBUTION', s.at, `built on ${s.step.prev.slice(0, 12)}…, not on the step before it (${prev.slice(0, 12)}…)`);
    const file = ptauFilePath(o.dir, s.step.file);
    if (!existsSync(file)) return fail('MISSING_FILE', s.at, `file ${s.step.file} is missing`);
    if ((await sha256File(file)) !== s.step.file) return fail('FILE_MISMATCH', s.at, `the stored file is not ${s.step.file}: it was altered`);
    const read = await readPtauChain(file);
    if (!read.ok) return fail('BAD_CONTRIBUTION', s.at, read.reason);
    const problem = listProblem(records.slice(0, s.upTo), read.entries);
    if (problem) return fail('BAD_CONTRIBUTION', s.at, problem);
    const mine = read.entries.at(-1)!;
    if (s.beacon) {
      if (mine.beacon?.value !== t.beacon!.value.slice(2) || mine.beacon.iterationsExp !== t.beacon!.iterationsExp) return fail('BAD_BEACON', s.at, `the file's beacon is not the recorded value ${t.beacon!.value}`);
    } else if (mine.beacon) return fail('BAD_CONTRIBUTION', s.at, 'a beacon where a contribution is recorded');
    ok(`${s.at}: verified (${mine.hash.slice(0, 16)}…)`);
    prev = s.step.file;
  }
  if (t.final) {
    const file = finalPtauPath(o.dir);
    if (!existsSync(file)) return fail('MISSING_FILE', 'final.ptau', `${file} is missing`);
    if ((await sha256File(file)) !== t.final.sha256) return fail('FILE_MISMATCH', 'final.ptau', `the stored file is not ${t.final.sha256}: it was altered`);
    const read = await readPtauChain(file);
    if (!read.ok) return fail('BAD_FINAL', 'final.ptau', read.reason);
    const problem = listProblem(records, read.entries);
    if (problem) return fail('BAD_FINAL', 'final.ptau', problem);
    ok(`final.ptau ${t.final.sha256}: verified, prepared for phase 2`);
  }
  return { ...report, ok: true };
}

/**
 * A phase-2 ceremony's phase 1, checked: the folder verifies (verifyPhase1) and its final.ptau is the
 * file the phase-2 transcript records (`ptauSha256`). Returns the final.ptau to re-verify phase 2 with.
 */
export async function checkPhase1For(dir: string, ptauSha256: string, provider?: Provider): Promise<{ ok: true; ptau: string; detail: string } | { ok: false; detail: string }> {
  let r: Phase1Report;
  try {
    r = await verifyPhase1({ dir, ...(provider ? { provider } : {}) });
  } catch (e) {
    return { ok: false, detail: `the phase-1 ceremony in ${dir} cannot be read: ${(e as Error).message}` };
  }
  const short = `${r.transcriptHash.slice(0, 10)}…`;
  if (!r.ok) return { ok: false, detail: `phase-1 ceremony ${short}: ${r.failure!.at}: ${r.failure!.reason}` };
  if (r.final !== ptauSha256) return { ok: false, detail: `the phase-2 ceremony started from ptau ${ptauSha256.slice(0, 12)}…, not from this phase-1 ceremony's final.ptau (${(r.final ?? 'none').slice(0, 12)}…)` };
  return { ok: true, ptau: finalPtauPath(dir), detail: `phase 1 ${short}: ${r.contributors.length} contributions (${r.contributors.map((c) => c.name).join(', ')}) and its beacon verify from the empty accumulator of power ${r.power}` };
}
