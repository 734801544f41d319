import { LeanIMT } from '@zk-kit/lean-imt';
import { poseidon2 } from 'poseidon-lite';
import { toBytes32 } from './field.ts';

/** The membership circuit's static depth: up to 2^20 (1,048,576) members per task. */
export const MAX_DEPTH = 20;
export const MAX_MEMBERS = 2 ** MAX_DEPTH;

/** The witness part of a membership proof, in the shape the circuit takes. */
export interface MembershipPath {
  depth: number;
  index: number;
  siblings: bigint[];
}

/**
 * A task's members: a Lean incremental Merkle tree of identity commitments with Poseidon(2) nodes,
 * the tree circomlib's BinaryMerkleRoot checks. The order of admission is the leaf order, so anyone
 * holding the list of commitments rebuilds exactly the same root.
 */
export class MembersTree {
  private readonly tree = new LeanIMT<bigint>((a, b) => poseidon2([a, b]));

  static of(commitments: readonly bigint[]): MembersTree {
    const t = new MembersTree();
    t.add(commitments);
    return t;
  }

  add(commitments: readonly bigint[]): void {
    if (this.tree.size + commitments.length > MAX_MEMBERS) throw new RangeError(`a task holds at most ${MAX_MEMBERS} members`);
    if (commitments.length > 0) this.tree.insertMany([...commitments]);
  }

  get size(): number {
    return this.tree.size;
  }

  /** The root as a field element; a tree needs at least one member to have one. */
  get root(): bigint {
    if (this.tree.size === 0) throw new RangeError('an empty members tree has no root');
    return this.tree.root;
  }

  /** The root as bytes32, as the chain records it in `participationRoot`. */
  get rootHex(): `0x${string}` {
    return toBytes32(this.root);
  }

  indexOf(commitment: bigint): number {
    return this.tree.indexOf(commitment);
  }

  /** The path of `commitment`, siblings zero-padded to MAX_DEPTH as the circuit expects. */
  pathOf(commitment: bigint): MembershipPath {
    const i = this.tree.indexOf(commitment);
    if (i < 0) throw new RangeError('this identity is not a member of the task');
    const { index, siblings } = this.tree.generateProof(i);
    return { depth: siblings.length, index, siblings: [...siblings, ...Array<bigint>(MAX_DEPTH - siblings.length).fill(0n)] };
  }
}
