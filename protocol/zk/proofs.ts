import { existsSync, readFileSync } from 'node:fs';
import * as snarkjs from 'snarkjs';
import { provingArtefacts, vkeyPath, type CircuitName } from '../../circuits/artefacts.ts';
import { ProtocolError } from '../errors.ts';
import { assertField } from './field.ts';
import { nullifierOf } from './identity.ts';
import type { MembershipPath } from './members-tree.ts';
import { PackedProof } from './packed-proof.ts';

export { PackedProof };

/** Groth16 proving and verification for the two circuits (circuits/src), packed as in packed-proof.ts. */

interface SnarkjsProof {
  pi_a: string[];
  pi_b: string[][];
  pi_c: string[];
  protocol: string;
  curve: string;
}

export function packProof(p: SnarkjsProof): PackedProof {
  return [p.pi_a[0]!, p.pi_a[1]!, p.pi_b[0]![1]!, p.pi_b[0]![0]!, p.pi_b[1]![1]!, p.pi_b[1]![0]!, p.pi_c[0]!, p.pi_c[1]!];
}

export function unpackProof(p: PackedProof): SnarkjsProof {
  return {
    pi_a: [p[0]!, p[1]!, '1'],
    pi_b: [[p[3]!, p[2]!], [p[5]!, p[4]!], ['1', '0']],
    pi_c: [p[6]!, p[7]!, '1'],
    protocol: 'groth16',
    curve: 'bn128',
  };
}

const vkeys = new Map<CircuitName, unknown>();
function vkey(name: CircuitName): unknown {
  let k = vkeys.get(name);
  if (!k) {
    k = JSON.parse(readFileSync(vkeyPath(name), 'utf8'));
    vkeys.set(name, k);
  }
  return k;
}

function artefacts(name: CircuitName): { wasm: string; zkey: string } {
  const a = provingArtefacts(name);
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
async function verify(name: CircuitName, publicSignals: bigint[], proof: unknown): Promise<boolean> {
  const packed = PackedProof.safeParse(proof);
  if (!packed.success) return false;
  await sharedCurve();
  try {
    return (await snarkjs.groth16.verify(vkey(name), publicSignals.map(String), unpackProof(packed.data), silentLogger)) === true;
  } catch {
    // snarkjs throws on points off the curve; that is a bad proof, not an internal error.
    return false;
  }
}

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Public signals of the membership circuit, in circuit order. */
export interface MembershipStatement {
  membersRoot: bigint;
  task: number | bigint;
  round: number | bigint;
  /** hashToField(EIP-712 digest of the Update). */
  updateDigest: bigint;
  nullifier: bigint;
}

const membershipSignals = (s: MembershipStatement): bigint[] =>
  [s.membersRoot, BigInt(s.task), BigInt(s.round), s.updateDigest, s.nullifier];

/** Proves that the holder of `secret` is a member behind `membersRoot` and binds the update. */
export async function proveMembership(args: {
  secret: bigint;
  path: MembershipPath;
  membersRoot: bigint;
  task: number | bigint;
  round: number | bigint;
  updateDigest: bigint;
}): Promise<{ proof: PackedProof; nullifier: bigint }> {
  assertField(args.updateDigest, 'updateDigest');
  const nullifier = nullifierOf(args.secret, args.task, args.round);
  const { proof } = await prove('membership', {
    membersRoot: args.membersRoot,
    task: BigInt(args.task),
    round: BigInt(args.round),
    updateDigest: args.updateDigest,
    nullifier,
    secret: args.secret,
    depth: args.path.depth,
    index: args.path.index,
    siblings: args.path.siblings,
  });
  return { proof, nullifier };
}

export function verifyMembership(statement: MembershipStatement, proof: unknown): Promise<boolean> {
  return verify('membership', membershipSignals(statement), proof);
}

/** Public signals of the claim circuit, in circuit order. */
export interface ClaimStatement {
  task: number | bigint;
  round: number | bigint;
  nullifier: bigint;
  /** The address paid, 0x-hex. */
  recipient: string;
}

const claimSignals = (s: ClaimStatement): bigint[] => [BigInt(s.task), BigInt(s.round), s.nullifier, BigInt(s.recipient)];

/** Proves knowledge of the secret behind this round's nullifier and binds the payout address. */
export async function proveClaim(args: { secret: bigint; task: number | bigint; round: number | bigint; recipient: string }): Promise<{ proof: PackedProof; nullifier: bigint }> {
  const nullifier = nullifierOf(args.secret, args.task, args.round);
  const { proof } = await prove('claim', {
    task: BigInt(args.task),
    round: BigInt(args.round),
    nullifier,
    recipient: BigInt(args.recipient),
    secret: args.secret,
  });
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
