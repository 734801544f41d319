import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILD_DIR, CIRCUIT_NAMES, vkeyPath, type CircuitName } from './artefacts.ts';
import { keysDir, loadTranscript } from './ceremony/ceremony.ts';
import { CeremonyError, transcriptHash, vkeyHash, type Transcript } from './ceremony/transcript.ts';
import type { ZkKeysPin } from '../protocol/checkpoint-format.ts';

/**
 * Which Groth16 keys this process proves and verifies with.
 *
 * - development: the build's beacon-only keys (circuits/build, circuits/keys). Anyone can recompute
 *   their toxic waste, so anyone can forge proofs with them: for the demo and the tests only.
 * - ceremony: the final keys of a finalized setup ceremony folder (fl-ceremony), chosen with
 *   FL_ZK_KEYS=<folder>. The verification keys are checked against the transcript when loaded.
 *
 * The proving circuit (the .wasm witness generator) comes from the build in both cases.
 */
export interface ZkKeySet {
  kind: 'development' | 'ceremony';
  /** The ceremony folder, for ceremony keys. */
  dir?: string;
  transcript?: Transcript;
  /** keccak256 of the canonical transcript; null for development keys. */
  transcriptHash: `0x${string}` | null;
  /** How many people contributed (0 for development keys: a beacon only). */
  contributors: number;
  zkey(name: CircuitName): string;
  wasm(name: CircuitName): string;
  vkey(name: CircuitName): unknown;
  vkeyHash(name: CircuitName): `0x${string}`;
}

function development(): ZkKeySet {
  const vkeys = new Map<CircuitName, unknown>();
  const vkey = (name: CircuitName): unknown => {
    if (!vkeys.has(name)) vkeys.set(name, JSON.parse(readFileSync(vkeyPath(name), 'utf8')));
    return vkeys.get(name);
  };
  return {
    kind: 'development',
    transcriptHash: null,
    contributors: 0,
    zkey: (name) => join(BUILD_DIR, `${name}.zkey`),
    wasm: (name) => join(BUILD_DIR, `${name}.wasm`),
    vkey,
    vkeyHash: (name) => vkeyHash(vkey(name)),
  };
}

/** The keys of a finalized ceremony folder; throws CeremonyError when it is not one or its keys are not the transcript's. */
export function ceremonyKeySet(dir: string): ZkKeySet {
  const t = loadTranscript(dir);
  if (!t.final) throw new CeremonyError('NOT_FINALIZED', `the ceremony in ${dir} is not finalized: run fl-ceremony finalize`);
  const missing = CIRCUIT_NAMES.filter((n) => !t.final![n]);
  if (missing.length) throw new CeremonyError('NOT_FINALIZED', `the ceremony in ${dir} has no keys for ${missing.join(', ')}: a federation needs both circuits`);
  const vkeys = new Map<CircuitName, unknown>();
  for (const name of CIRCUIT_NAMES) {
    const file = join(keysDir(dir), `${name}.vkey.json`);
    if (!existsSync(file)) throw new CeremonyError('MISSING_FILE', `${file} is missing`);
    const vk: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (vkeyHash(vk) !== t.final[name]!.vkeyHash) throw new CeremonyError('BAD_FINAL', `${file} is not the ceremony's final ${name} key (${t.final[name]!.vkeyHash})`);
    vkeys.set(name, vk);
  }
  return {
    kind: 'ceremony',
    dir,
    transcript: t,
    transcriptHash: transcriptHash(t),
    contributors: t.contributions.length,
    zkey: (name) => join(keysDir(dir), `${name}.zkey`),
    wasm: (name) => join(BUILD_DIR, `${name}.wasm`),
    vkey: (name) => vkeys.get(name),
    vkeyHash: (name) => t.final![name]!.vkeyHash as `0x${string}`,
  };
}

let cached: { key: string; set: ZkKeySet } | undefined;

/** The process's key set: FL_ZK_KEYS's ceremony folder when set, else the development keys. */
export function activeKeySet(): ZkKeySet {
  const dir = process.env.FL_ZK_KEYS ? resolve(process.env.FL_ZK_KEYS) : '';
  if (cached?.key !== dir) cached = { key: dir, set: dir ? ceremonyKeySet(dir) : development() };
  return cached.set;
}

/** What a private task pins (in its genesis checkpoint, so on chain from its creation). */
export const keysPin = (k: ZkKeySet): ZkKeysPin => ({
  kind: k.kind,
  membershipVkey: k.vkeyHash('membership'),
  claimVkey: k.vkeyHash('claim'),
  transcript: k.transcriptHash,
  contributors: k.contributors,
});
