import { assertField } from './field.ts';
import { nullifierOf } from './identity.ts';
import type { MembershipPath } from './members-tree.ts';
import type { PackedProof } from './packed-proof.ts';

/**
 * What each circuit proves, independent of where the prover runs: the witness inputs and the public
 * signals of the membership and claim circuits (circuits/src), and the packing of snarkjs proofs.
 * proofs.ts runs snarkjs in Node on these; the browser page (client/web/browser/proofs.ts) runs it
 * in a Web Worker on the very same inputs.
 */

export type CircuitId = 'membership' | 'claim';

export interface SnarkjsProof {
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

/** Public signals of the membership circuit, in circuit order. */
export interface MembershipStatement {
  membersRoot: bigint;
  task: number | bigint;
  round: number | bigint;
  /** hashToField(EIP-712 digest of the Update). */
  updateDigest: bigint;
  nullifier: bigint;
}

export const membershipSignals = (s: MembershipStatement): bigint[] => [s.membersRoot, BigInt(s.task), BigInt(s.round), s.updateDigest, s.nullifier];

export interface MembershipArgs {
  secret: bigint;
  path: MembershipPath;
  membersRoot: bigint;
  task: number | bigint;
  round: number | bigint;
  updateDigest: bigint;
}

/** The membership circuit's witness inputs, and the nullifier they prove. */
export function membershipInput(args: MembershipArgs): { input: Record<string, unknown>; nullifier: bigint } {
  assertField(args.updateDigest, 'updateDigest');
  const nullifier = nullifierOf(args.secret, args.task, args.round);
  return {
    nullifier,
    input: {
      membersRoot: args.membersRoot,
      task: BigInt(args.task),
      round: BigInt(args.round),
      updateDigest: args.updateDigest,
      nullifier,
      secret: args.secret,
      depth: args.path.depth,
      index: args.path.index,
      siblings: args.path.siblings,
    },
  };
}

/** Public signals of the claim circuit, in circuit order. */
export interface ClaimStatement {
  task: number | bigint;
  round: number | bigint;
  nullifier: bigint;
  /** The address paid, 0x-hex. */
  recipient: string;
}

export const claimSignals = (s: ClaimStatement): bigint[] => [BigInt(s.task), BigInt(s.round), s.nullifier, BigInt(s.recipient)];

export interface ClaimArgs {
  secret: bigint;
  task: number | bigint;
  round: number | bigint;
  recipient: string;
}

/** The claim circuit's witness inputs, and the nullifier they prove. */
export function claimInput(args: ClaimArgs): { input: Record<string, unknown>; nullifier: bigint } {
  const nullifier = nullifierOf(args.secret, args.task, args.round);
  return { nullifier, input: { task: BigInt(args.task), round: BigInt(args.round), nullifier, recipient: BigInt(args.recipient), secret: args.secret } };
}
