import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the circuit build puts its outputs; shared by the build script and the prover. */
export const CIRCUITS_DIR = dirname(fileURLToPath(import.meta.url));
export const BUILD_DIR = join(CIRCUITS_DIR, 'build');
/** Committed verification keys: what verifiers (coordinator, auditor) trust. */
export const KEYS_DIR = join(CIRCUITS_DIR, 'keys');

export type CircuitName = 'membership' | 'claim';
export const CIRCUIT_NAMES: readonly CircuitName[] = ['membership', 'claim'];

/** Proving artefacts of a circuit (gitignored; `npm run build:circuits` makes them). */
export function provingArtefacts(name: CircuitName): { wasm: string; zkey: string } {
  return { wasm: join(BUILD_DIR, `${name}.wasm`), zkey: join(BUILD_DIR, `${name}.zkey`) };
}

/** The compiled constraint system of a circuit (gitignored; made by the build). */
export const r1csPath = (name: CircuitName): string => join(BUILD_DIR, `${name}.r1cs`);

export const vkeyPath = (name: CircuitName): string => join(KEYS_DIR, `${name}.vkey.json`);
