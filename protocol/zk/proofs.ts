import { existsSync } from 'node:fs';
import * as snarkjs from 'snarkjs';
import type { CircuitName } from '../../circuits/artefacts.ts';
import { activeKeySet, type ZkKeySet } from '../../circuits/key-set.ts';
import { ProtocolError } from '../errors.ts';
import { PackedProof } from './packed-proof.ts';
import { claimInput, claimSignals, membershipInput, membershipSignals, packProof, unpackProof, type ClaimArgs, type ClaimStatement, type MembershipArgs, type MembershipStatement, type SnarkjsProof } from './statements.ts';

export { PackedProof };
export { packProof, unpackProof, type ClaimStatement, type MembershipStatement } from './statements.ts';

/**
 * Groth16 proving and verification for the two circuits (circuits/src) in Node, packed as in
 * packed-proof.ts; the statements themselves are in statements.ts, shared with the browser page.
 */

/** The process's keys (development, or a ceremony's with FL_ZK_KEYS): circuits/key-set.ts. */
const vkey = (name: CircuitName, keys?: ZkKeySet): unknown => (keys ?? activeKeySet()).vkey(name);

function artefacts(name: CircuitName): { wasm: string; zkey: string } {
  const k = activeKeySet();
  const a = { wasm: k.wasm(name), zkey: k.zkey(name) };
  if (!existsSync(a.wasm) || !existsSync(a.zkey)) {
    throw new ProtocolError('ZK_ARTEFACTS_MISSING', `the ${name} circuit is not built: run \`npm run build:circuits\``);
  }
  return a;
}

/**
 * ffjavascript caches its bn128 curve (and that curve's worker threads) in a global, but only once
 * a build finishes: two proofs started together each build a curve, and the loser's threads are
 * never terminated, so the process cannot exit. Every entry point awaits this one build first.
 */
let curve: Promise<snarkjs.Curve> | undefined;
function sharedCurve(): Promise<snarkjs.Curve> {
  curve ??= snarkjs.curves.getCurveFromName('bn128').catch((err: unknown) => {
    curve = undefined;
    throw err;
  });
  return curve;
}

async function prove(name: CircuitName, input: Record<string, unknown>): Promise<{ proof: PackedProof; publicSignals: string[] }> {
  const { wasm, zkey } = artefacts(name);
  await sharedCurve();
  const { proof, publicSignals } = await snarkjs.groth16.fullProve(input, wasm, zkey);
  return { proof: packProof(proof as SnarkjsProof), publicSignals: publicSignals as string[] };
}

/** False for a proof that does not verify or is not even well-formed (never throws on bad input). */
async function verify(name: CircuitName, publicSignals: bigint[], proof: unknown, keys?: ZkKeySet): Promise<boolean> {
  const packed = PackedProof.safeParse(proof);
  if (!packed.success) return false;
  await sharedCurve();
  try {
    return (await snarkjs.groth16.verify(vkey(name, keys), publicSignals.map(String), unpackProof(packed.data), silentLogger)) === true;
  } catch {
    // snarkjs throws on points off the curve; that is a bad proof, not an internal error.
    return false;
  }
}

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Proves that the holder of `secret` is a member behind `membersRoot` and binds the update. */
export async function proveMembership(args: MembershipArgs): Promise<{ proof: PackedProof; nullifier: bigint }> {
  const { input, nullifier } = membershipInput(args);
  const { proof } = await prove('membership', input);
  return { proof, nullifier };
}

/** `keys`: verify with these keys instead of the process's (the auditor passes a task's pinned ones). */
export function verifyMembership(statement: MembershipStatement, proof: unknown, keys?: ZkKeySet): Promise<boolean> {
  return verify('membership', membershipSignals(statement), proof, keys);
}

/** Proves knowledge of the secret behind this round's nullifier and binds the payout address. */
export async function proveClaim(args: ClaimArgs): Promise<{ proof: PackedProof; nullifier: bigint }> {
  const { input, nullifier } = claimInput(args);
  const { proof } = await prove('claim', input);
  return { proof, nullifier };
}

export function verifyClaim(statement: ClaimStatement, proof: unknown): Promise<boolean> {
  return verify('claim', claimSignals(statement), proof);
}

/** snarkjs keeps its curve's worker threads alive; call this before a process should exit. */
export async function terminateZk(): Promise<void> {
  const built = curve;
  curve = undefined;
  if (built) await (await built.catch(() => undefined))?.terminate();
  // Covers a curve some other snarkjs call built (the circuit build script, for one).
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
}
