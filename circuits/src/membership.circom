pragma circom 2.1.5;

// Membership: "I am an admitted member of this task, I have not uploaded under another nullifier
// this round, and this proof belongs to exactly this update."
//
// Public signals, in this order (declaration order = snarkjs publicSignals order):
//   membersRoot   root of the task's Lean IMT of identity commitments, snapshotted when the round opened
//   task          task id
//   round         round number
//   updateDigest  EIP-712 digest of the Update {task, round, baseHash, updateHash, numSamples}, >> 8
//   nullifier     Poseidon(secret, task, round): one per member per round, unlinkable across rounds
// Private signals:
//   secret        the member's identity secret; its commitment Poseidon(secret) is the tree leaf
//   depth         depth of the Lean IMT (the Merkle proof's length), at most MAX_DEPTH
//   index         the leaf's path bits as LeanIMT.generateProof returns them
//   siblings[MAX_DEPTH]  the proof's siblings, zero-padded to MAX_DEPTH
// Outputs: none (every public value is an input, so the order above is the whole interface).

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";
include "@zk-kit/binary-merkle-root.circom/src/binary-merkle-root.circom";

template Membership(MAX_DEPTH) {
    signal input membersRoot;
    signal input task;
    signal input round;
    signal input updateDigest;
    signal input nullifier;

    signal input secret;
    signal input depth;
    signal input index;
    signal input siblings[MAX_DEPTH];

    // BinaryMerkleRoot returns 0 for depth > MAX_DEPTH; the bound makes such a witness unsatisfiable
    // instead of relying on membersRoot never being 0. Depth fits in 8 bits or Num2Bits fails.
    signal depthOk <== LessEqThan(8)([depth, MAX_DEPTH]);
    depthOk === 1;

    signal commitment <== Poseidon(1)([secret]);
    signal root <== BinaryMerkleRoot(MAX_DEPTH)(commitment, depth, index, siblings);
    root === membersRoot;

    signal expectedNullifier <== Poseidon(3)([secret, task, round]);
    expectedNullifier === nullifier;

    // updateDigest appears in no other constraint; squaring it keeps the optimiser from dropping it,
    // so a proof cannot be re-used for a different update.
    signal digestSquare <== updateDigest * updateDigest;
}

component main {public [membersRoot, task, round, updateDigest, nullifier]} = Membership(20);
