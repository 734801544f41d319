pragma circom 2.1.5;

// Claim: "I hold the secret behind this accepted upload's nullifier, and I want its reward paid to
// this address." Verified on chain by the reward distributor (generated ClaimVerifier).
//
// Public signals, in this order (declaration order = snarkjs publicSignals order):
//   task       task id
//   round      round number
//   nullifier  Poseidon(secret, task, round), a leaf key of the round's private rewards tree
//   recipient  the address paid, as a field element (uint160)
// Private signals:
//   secret     the member's identity secret
// Outputs: none.

include "circomlib/circuits/poseidon.circom";

template Claim() {
    signal input task;
    signal input round;
    signal input nullifier;
    signal input recipient;

    signal input secret;

    signal expectedNullifier <== Poseidon(3)([secret, task, round]);
    expectedNullifier === nullifier;

    // Binds the payout address: a proof copied from the mempool cannot be replayed to another
    // recipient, because the recipient is a public input the verifier checks.
    signal recipientSquare <== recipient * recipient;
}

component main {public [task, round, nullifier, recipient]} = Claim();
