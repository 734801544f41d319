// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IClaimVerifier
 * @notice Groth16 verifier of the claim circuit (circuits/src/claim.circom): "I know the secret behind
 * this nullifier of round `round` of task `task`, and I want its reward paid to `recipient`".
 *
 * @dev The implementation is `ClaimVerifier` in contracts/src/generated/, written by
 * `npm run build:circuits` from snarkjs's Groth16 template; this interface is what the
 * {RewardDistributor} is compiled against, so the distributor does not depend on the generated file's
 * verification key (a new trusted setup means a new verifier, not new distributor code).
 */
interface IClaimVerifier {
    /**
     * @notice Whether (`_pA`, `_pB`, `_pC`) is a valid proof of the claim circuit for `_pubSignals`.
     * @dev Returns false (never reverts) for a wrong proof, a point off the curve or a public signal
     * outside the SNARK scalar field. `_pB`'s coordinates are in the order the precompile wants
     * (snarkjs's `exportSolidityCallData` order: each Fp2 element as [imaginary, real]).
     * @param _pA Proof element A, a G1 point [x, y].
     * @param _pB Proof element B, a G2 point [[x1, x0], [y1, y0]].
     * @param _pC Proof element C, a G1 point [x, y].
     * @param _pubSignals [task, round, nullifier, uint256(uint160(recipient))], the circuit's order.
     */
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata _pB,
        uint256[2] calldata _pC,
        uint256[4] calldata _pubSignals
    ) external view returns (bool);
}
