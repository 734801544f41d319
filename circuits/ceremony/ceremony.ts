/**
 * A Groth16 phase-2 setup ceremony over the project's circuits, kept in one folder:
 *
 *   <dir>/ceremony.json          the transcript (transcript.ts), canonical JSON
 *   <dir>/files/<sha256>.zkey    every key of every chain, content-addressed
 *   <dir>/keys/                  after finalize: <name>.zkey, <name>.vkey.json, <Contract>.sol, <Contract>.json
 *
 * The keys are safe when at least one contributor destroyed their entropy: snarkjs mixes each
 * contribution into the key and proves it did (a proof of knowledge per contribution, checked by
 * `verifyCeremony`). The beacon at the end is a public value fixed after the last contribution, so
 * the last contributor cannot steer the final key either.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as snarkjs from 'snarkjs';
import type { Provider } from 'ethers';
import { compileStandalone } from '../../contracts/compile.ts';
import { withDirLock } from '../../scripts/dir-lock.ts';
import { CIRCUIT_NAMES, r1csPath, type CircuitName } from '../artefacts.ts';
import { solidityVerifier } from '../verifier-export.ts';
import {
  CeremonyError,
  circuitsOf,
  latestFile,
  parseTranscript,
  transcriptBytes,
  transcriptHash,
  vkeyHash,
  CEREMONY_FORMAT,
  type Beacon,
  type Contribution,
  type FinalKey,
  type Step,
  type Transcript,
} from './transcript.ts';
import { readChain, type ChainEntry } from './zkey-chain.ts';
import { needByHash, readTranscriptJson, sha256File, storeByHash, writeAtomically } from './folder-files.ts';
import { checkBeaconBlock } from './beacon-block.ts';

/** Solidity contract name of each circuit's verifier (as circuits/build.ts names them). */
export const VERIFIER_CONTRACT: Record<CircuitName, string> = { membership: 'MembershipVerifier', claim: 'ClaimVerifier' };

export const transcriptPath = (dir: string): string => join(dir, 'ceremony.json');
export const filePath = (dir: string, sha: string): string => join(dir, 'files', `${sha}.zkey`);
export const keysDir = (dir: string): string => join(dir, 'keys');

export { sha256File };

export function loadTranscript(dir: string): Transcript {
  const p = transcriptPath(dir);
  return parseTranscript(readTranscriptJson(p, `no ceremony in ${dir} (${p} is missing): start one with fl-ceremony init`), p);
}

const saveTranscript = (dir: string, t: Transcript): void => writeAtomically(transcriptPath(dir), transcriptBytes(t));

/** Moves a finished zkey into the folder under its hash; returns the hash. */
const store = (dir: string, file: string): Promise<string> => storeByHash(file, (sha) => filePath(dir, sha));

const need = (dir: string, sha: string, what: string): string => needByHash((h) => filePath(dir, h), sha, what);

const scratch = (tag: string): string => join(tmpdir(), `fl-ceremony-${tag}-${randomBytes(6).toString('hex')}.zkey`);
const hex = (b: unknown): string => Buffer.from(b as Uint8Array).toString('hex');
const lock = (dir: string, fn: () => Promise<void>): Promise<void> => withDirLock(join(dir, '.lock'), { staleMs: 10 * 60_000, waitMs: 10 * 60_000 }, fn);

export interface InitOptions {
  dir: string;
  ptau: string;
  circuits?: readonly CircuitName[];
  log?: (line: string) => void;
}

/** Starts a ceremony: each circuit's initial key from its r1cs and the phase-1 ptau (deterministic). */
export async function initCeremony(o: InitOptions): Promise<Transcript> {
  if (existsSync(transcriptPath(o.dir))) throw new CeremonyError('BAD_TRANSCRIPT', `${o.dir} already holds a ceremony`);
  mkdirSync(o.dir, { recursive: true });
  const circuits: Transcript['circuits'] = {};
  for (const name of o.circuits ?? CIRCUIT_NAMES) {
    const r1cs = r1csPath(name);
    if (!existsSync(r1cs)) throw new CeremonyError('MISSING_FILE', `${r1cs} is missing: run npm run build:circuits first`);
    const out = scratch(`${name}-init`);
    await snarkjs.zKey.newZKey(r1cs, o.ptau, out);
    circuits[name] = { r1cs: await sha256File(r1cs), init: await store(o.dir, out) };
    o.log?.(`${name}: initial key ${circuits[name]!.init}`);
  }
  const t = parseTranscript({ format: CEREMONY_FORMAT, ptau: { sha256: await sha256File(o.ptau) }, circuits, contributions: [], beacon: null, final: null });
  saveTranscript(o.dir, t);
  return t;
}

/** A contribution as submitted: its name and, per circuit, the file it built on, the new file and its hash. */
export interface Candidate {
  name: string;
  circuits: Partial<Record<CircuitName, Step>>;
}

/**
 * Checks that a candidate extends the chain as it stands by exactly one contribution: it names the
 * latest files as its parents (else STALE_CONTRIBUTION), and snarkjs finds in each new file every
 * earlier contribution, in order, plus this one with the hash and name it claims. The new files must
 * already be in `files/`. Returns the record to append; throws CeremonyError naming the fault.
 */
export async function checkCandidate(dir: string, t: Transcript, ptau: string, c: Candidate): Promise<Contribution> {
  if (t.beacon) throw new CeremonyError('FINALIZED', 'the ceremony is finalized: no more contributions');
  const index = t.contributions.length + 1;
  const circuits = circuitsOf(t);
  const given = Object.keys(c.circuits).sort().join();
  if (given !== [...circuits].sort().join()) throw new CeremonyError('BAD_CONTRIBUTION', `a contribution must cover exactly ${circuits.join(', ')} (got ${given || 'none'})`);
  for (const name of circuits) {
    const step = c.circuits[name]!;
    const latest = latestFile(t, name);
    if (step.prev !== latest) throw new CeremonyError('STALE_CONTRIBUTION', `${name}: the contribution was made on ${step.prev.slice(0, 12)}…, but the latest key is ${latest.slice(0, 12)}… (contribution ${index - 1} came first): fetch the latest files and contribute again`);
    const file = need(dir, step.zkey, `${name} contribution`);
    if ((await sha256File(file)) !== step.zkey) throw new CeremonyError('FILE_MISMATCH', `${name}: the file stored as ${step.zkey} has another hash`);
    const chain = await readChain(need(dir, t.circuits[name]!.init, `${name} initial key`), ptau, file);
    if (!chain.ok) throw new CeremonyError('BAD_CONTRIBUTION', `${name}: ${chain.reason}`);
    const problem = chainProblem(t.contributions, name, chain.entries.slice(0, -1));
    if (problem) throw new CeremonyError('STALE_CONTRIBUTION', `${name}: ${problem}`);
    const mine = chain.entries.at(-1);
    if (chain.entries.length !== index || !mine) throw new CeremonyError('BAD_CONTRIBUTION', `${name}: the key holds ${chain.entries.length} contributions, expected ${index}`);
    if (mine.beacon) throw new CeremonyError('BAD_CONTRIBUTION', `${name}: a beacon is not a contribution`);
    if (mine.hash !== step.hash) throw new CeremonyError('BAD_CONTRIBUTION', `${name}: the key's new contribution has hash ${mine.hash.slice(0, 16)}…, not the claimed ${step.hash.slice(0, 16)}…`);
    if (mine.name !== c.name) throw new CeremonyError('BAD_CONTRIBUTION', `${name}: the key names its contributor '${mine.name}', not '${c.name}'`);
  }
  return { index, name: c.name, circuits: c.circuits };
}

/** Where the chain snarkjs read differs from the transcript's records, or null. */
function chainProblem(records: readonly Contribution[], name: CircuitName, entries: readonly ChainEntry[]): string | null {
  if (entries.length !== records.length) return `the key extends ${entries.length} contributions, the ceremony has ${records.length}: it was not made on the latest key`;
  for (let i = 0; i < records.length; i++) {
    if (entries[i]!.hash !== records[i]!.circuits[name]!.hash) return `the key's contribution ${i + 1} (${entries[i]!.name}) is not the ceremony's contribution ${i + 1} (${records[i]!.name}): it was not made on the latest key`;
  }
  return null;
}

/** Appends a checked contribution, one at a time (a folder lock: contributions go in turn). */
export async function submitContribution(dir: string, ptau: string, c: Candidate): Promise<Contribution> {
  let record: Contribution | undefined;
  await lock(dir, async () => {
    const t = loadTranscript(dir);
    record = await checkCandidate(dir, t, ptau, c);
    saveTranscript(dir, { ...t, contributions: [...t.contributions, record] });
  });
  return record!;
}

export interface ContributeOptions {
  dir: string;
  name: string;
  /** Extra entropy text; the contribution always mixes in 64 fresh random bytes. */
  entropy?: string;
  log?: (line: string) => void;
}

/**
 * Makes a contribution on the latest files without touching the transcript: needs only the folder
 * (offline). The entropy lives in this call's memory and is gone when it returns.
 */
export async function makeContribution(o: ContributeOptions): Promise<Candidate> {
  const t = loadTranscript(o.dir);
  if (t.beacon) throw new CeremonyError('FINALIZED', 'the ceremony is finalized: no more contributions');
  const circuits: Candidate['circuits'] = {};
  for (const name of circuitsOf(t)) {
    const prev = latestFile(t, name);
    const out = scratch(`${name}-c`);
    const entropy = `${randomBytes(64).toString('hex')}${o.entropy ?? ''}`;
    const hash = hex(await snarkjs.zKey.contribute(need(o.dir, prev, `${name} latest key`), out, o.name, entropy));
    circuits[name] = { prev, zkey: await store(o.dir, out), hash };
    o.log?.(`${name}: contribution hash ${hash}`);
  }
  return { name: o.name, circuits };
}

/** `fl-ceremony contribute` on a local folder: make it, then check and append it. */
export async function contribute(o: ContributeOptions & { ptau: string }): Promise<Contribution> {
  return submitContribution(o.dir, o.ptau, await makeContribution(o));
}

export interface FinalizeOptions {
  dir: string;
  ptau: string;
  /** The public random value, 0x + 64 hex digits. */
  beacon: string;
  source: string;
  /** The block whose hash `beacon` is (blockBeacon), recorded so that anyone can re-check it. */
  block?: { chainId: number; number: number };
  iterationsExp?: number;
  log?: (line: string) => void;
}

/** Applies the beacon, exports each circuit's verification key and verifier, compiles the verifiers. */
export async function finalizeCeremony(o: FinalizeOptions): Promise<Transcript> {
  let out: Transcript | undefined;
  await lock(o.dir, async () => {
    const t = loadTranscript(o.dir);
    if (t.beacon) throw new CeremonyError('FINALIZED', 'the ceremony is finalized already');
    if (t.contributions.length === 0) throw new CeremonyError('BAD_CONTRIBUTION', 'no contributions yet: a beacon alone is what the development keys are');
    if (!/^0x[0-9a-f]{64}$/.test(o.beacon)) throw new CeremonyError('BAD_BEACON', `the beacon must be 0x and 64 lowercase hex digits (a block hash), got ${o.beacon}`);
    const iterationsExp = o.iterationsExp ?? 10;
    const steps: Beacon['circuits'] = {};
    for (const name of circuitsOf(t)) {
      const prev = latestFile(t, name);
      const file = scratch(`${name}-beacon`);
      const hash = hex(await snarkjs.zKey.beacon(need(o.dir, prev, `${name} latest key`), file, 'beacon', o.beacon.slice(2), iterationsExp));
      steps[name] = { prev, zkey: await store(o.dir, file), hash };
      o.log?.(`${name}: beacon applied`);
    }
    const beacon: Beacon = { source: o.source, value: o.beacon, iterationsExp, ...(o.block ? { block: o.block } : {}), circuits: steps };
    const final: NonNullable<Transcript['final']> = {};
    mkdirSync(keysDir(o.dir), { recursive: true });
    for (const name of circuitsOf(t)) {
      const keys = await exportKeys(o.dir, name, steps[name]!.zkey);
      final[name] = keys;
      o.log?.(`${name}: verification key ${keys.vkeyHash}`);
    }
    out = parseTranscript({ ...t, beacon, final });
    saveTranscript(o.dir, out);
  });
  return out!;
}

/** Verification key, Solidity verifier and its compiled artefact of a final key, into keys/. */
async function exportKeys(dir: string, name: CircuitName, sha: string): Promise<FinalKey> {
  const zkey = need(dir, sha, `${name} final key`);
  const vkey = await snarkjs.zKey.exportVerificationKey(zkey);
  const contract = VERIFIER_CONTRACT[name];
  const sol = await verifierSource(zkey, name);
  const compiled = await compileStandalone(`${contract}.sol`, sol, contract);
  const k = keysDir(dir);
  copyFileSync(zkey, join(k, `${name}.zkey`));
  writeFileSync(join(k, `${name}.vkey.json`), JSON.stringify(vkey, null, 2) + '\n');
  writeFileSync(join(k, `${contract}.sol`), sol);
  writeFileSync(join(k, `${contract}.json`), JSON.stringify(compiled, null, 2) + '\n');
  return { zkey: sha, vkeyHash: vkeyHash(vkey), verifierSha256: createHash('sha256').update(sol).digest('hex') };
}

/** The verifier source of a ceremony key: what finalize writes and the auditor regenerates. */
export const verifierSource = (zkey: string, name: CircuitName): Promise<string> =>
  solidityVerifier(zkey, VERIFIER_CONTRACT[name], `// Generated by fl-ceremony finalize from the ${name} circuit's ceremony key; do not edit.`);

export interface Contributor {
  index: number;
  name: string;
  hashes: Partial<Record<CircuitName, string>>;
}

export interface VerifyReport {
  ok: boolean;
  transcriptHash: `0x${string}`;
  contributors: Contributor[];
  beacon: { source: string; value: string; block?: { chainId: number; number: number }; check?: string } | null;
  final: Transcript['final'];
  /** The first fault, named: which step of which circuit, and why. */
  failure?: { code: CeremonyError['code']; at: string; reason: string };
  checked: string[];
}

export interface VerifyOptions {
  dir: string;
  ptau: string;
  log?: (line: string) => void;
  /** Verify a transcript other than the folder's own (the auditor passes the pinned one). */
  transcript?: Transcript;
  /** An RPC node: a beacon that names a block of its chain must be that block's hash. */
  provider?: Provider;
}

/**
 * Checks the whole ceremony from the r1cs and ptau to the final keys: the ptau and r1cs are the
 * recorded ones; each initial key is what snarkjs makes from them (rebuilt here); every file is
 * the one recorded; every contribution file holds exactly the chain so far plus itself, with the
 * recorded hash and name, and passes snarkjs's verification against the initial key; the beacon is
 * the recorded public value; the exported verification keys and verifiers are the final key's.
 */
export async function verifyCeremony(o: VerifyOptions): Promise<VerifyReport> {
  const t = o.transcript ?? loadTranscript(o.dir);
  const report: VerifyReport = {
    ok: false,
    transcriptHash: transcriptHash(t),
    contributors: t.contributions.map((c) => ({ index: c.index, name: c.name, hashes: Object.fromEntries(Object.entries(c.circuits).map(([k, s]) => [k, s!.hash])) })),
    beacon: t.beacon ? { source: t.beacon.source, value: t.beacon.value, ...(t.beacon.block ? { block: t.beacon.block } : {}) } : null,
    final: t.final,
    checked: [],
  };
  const fail = (code: CeremonyError['code'], at: string, reason: string): VerifyReport => ({ ...report, failure: { code, at, reason } });
  const ok = (line: string): void => {
    report.checked.push(line);
    o.log?.(line);
  };
  if (t.beacon && o.provider) {
    // First, as it is cheap: a beacon that is not the block it names was chosen, not drawn.
    const b = await checkBeaconBlock(t.beacon, o.provider);
    if (b.checked && !b.ok) return fail('BAD_BEACON', 'beacon', b.detail);
    report.beacon!.check = b.detail;
    if (b.checked) ok(b.detail);
  }
  if ((await sha256File(o.ptau)) !== t.ptau.sha256) return fail('WRONG_PTAU', 'ptau', `the powers of tau file is not the one the ceremony used (${t.ptau.sha256.slice(0, 12)}…)`);
  for (const name of circuitsOf(t)) {
    const rec = t.circuits[name]!;
    const r1cs = r1csPath(name);
    if (!existsSync(r1cs)) return fail('MISSING_FILE', `${name} r1cs`, `${r1cs} is missing: run npm run build:circuits`);
    if ((await sha256File(r1cs)) !== rec.r1cs) return fail('WRONG_INIT', `${name} r1cs`, 'this build of the circuit is not the one the ceremony used');
    const init = filePath(o.dir, rec.init);
    if (!existsSync(init)) return fail('MISSING_FILE', `${name} initial key`, `file ${rec.init} is missing`);
    const rebuilt = scratch(`${name}-reinit`);
    try {
      await snarkjs.zKey.newZKey(r1cs, o.ptau, rebuilt);
      if ((await sha256File(rebuilt)) !== rec.init) return fail('WRONG_INIT', `${name} initial key`, 'the initial key is not what the r1cs and ptau give');
    } finally {
      rmSync(rebuilt, { force: true });
    }
    if ((await sha256File(init)) !== rec.init) return fail('FILE_MISMATCH', `${name} initial key`, `the stored file is not ${rec.init}`);
    ok(`${name}: initial key rebuilt from the r1cs and ptau`);
    const steps: { at: string; step: Step; entries: number; beacon?: Beacon }[] = t.contributions.map((c) => ({ at: `contribution ${c.index} (${c.name})`, step: c.circuits[name]!, entries: c.index }));
    if (t.beacon) steps.push({ at: 'beacon', step: t.beacon.circuits[name]!, entries: t.contributions.length + 1, beacon: t.beacon });
    let prev = rec.init;
    for (const s of steps) {
      const at = `${name} ${s.at}`;
      if (s.step.prev !== prev) return fail('BAD_CONTRIBUTION', at, `built on ${s.step.prev.slice(0, 12)}…, not on the step before it (${prev.slice(0, 12)}…)`);
      const file = filePath(o.dir, s.step.zkey);
      if (!existsSync(file)) return fail('MISSING_FILE', at, `file ${s.step.zkey} is missing`);
      if ((await sha256File(file)) !== s.step.zkey) return fail('FILE_MISMATCH', at, `the stored file is not ${s.step.zkey}: it was altered`);
      const chain = await readChain(init, o.ptau, file);
      if (!chain.ok) return fail('BAD_CONTRIBUTION', at, chain.reason);
      if (chain.entries.length !== s.entries) return fail('BAD_CONTRIBUTION', at, `the key holds ${chain.entries.length} contributions, expected ${s.entries}`);
      const problem = chainProblem(t.contributions.slice(0, Math.min(s.entries, t.contributions.length) - (s.beacon ? 0 : 1)), name, chain.entries.slice(0, -1));
      if (problem) return fail('BAD_CONTRIBUTION', at, problem);
      const mine = chain.entries.at(-1)!;
      if (mine.hash !== s.step.hash) return fail('BAD_CONTRIBUTION', at, `the key's contribution hash is ${mine.hash.slice(0, 16)}…, the transcript says ${s.step.hash.slice(0, 16)}…`);
      if (s.beacon) {
        if (mine.beacon?.value !== s.beacon.value.slice(2) || mine.beacon.iterationsExp !== s.beacon.iterationsExp) return fail('BAD_BEACON', at, `the key's beacon is not the recorded value ${s.beacon.value}`);
      } else if (mine.beacon) return fail('BAD_CONTRIBUTION', at, 'a beacon where a contribution is recorded');
      ok(`${at}: verified${s.beacon ? ` (beacon ${s.beacon.value.slice(0, 12)}…)` : ` (${mine.hash.slice(0, 16)}…)`}`);
      prev = s.step.zkey;
    }
    if (t.final) {
      const fin = t.final[name];
      if (!fin || fin.zkey !== prev) return fail('BAD_FINAL', `${name} final key`, 'the final key is not the beacon\'s output');
      const zkey = filePath(o.dir, fin.zkey);
      const vkey = await snarkjs.zKey.exportVerificationKey(zkey);
      if (vkeyHash(vkey) !== fin.vkeyHash) return fail('BAD_FINAL', `${name} verification key`, `the final key's verification key hashes to ${vkeyHash(vkey)}, the transcript says ${fin.vkeyHash}`);
      const sol = await verifierSource(zkey, name);
      if (createHash('sha256').update(sol).digest('hex') !== fin.verifierSha256) return fail('BAD_FINAL', `${name} verifier`, 'the recorded verifier is not the final key\'s');
      ok(`${name}: final verification key ${fin.vkeyHash}`);
    }
  }
  return { ...report, ok: true };
}
