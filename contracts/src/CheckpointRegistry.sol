// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IClaimVerifier} from "./IClaimVerifier.sol";
import {ITaskRegistry, RewardDistributor} from "./RewardDistributor.sol";

/**
 * @title CheckpointRegistry
 * @notice Append-only, per-task history of federated-learning checkpoints. Each committed round names
 * its new checkpoint, the checkpoint it was built on (which must be the task's head), the hash of its
 * off-chain round manifest, the Merkle root of its rewards and the root reserved for private
 * participation proofs. Anyone can replay the {RoundCommitted} events to rebuild and check the chain
 * of checkpoints.
 *
 * @dev Only per-task heads are stored (latest checkpoint and last round); everything else lives in the
 * event, so a commit costs the same whether a round had 5 or 5,000 contributors.
 *
 * Rewards: the registry creates its own {RewardDistributor} in the constructor and is the only
 * account that may allocate from it. Binding the two at construction leaves no window in which a
 * registry commits rounds against the wrong distributor, needs no set-once admin function, and lets
 * the registry keep the distributor address in an immutable (no storage read per commit). A commit
 * with a non-zero `reward` moves that amount out of the task's budget in the same transaction, so a
 * round is never committed with rewards it cannot pay.
 */
contract CheckpointRegistry is AccessControl, ITaskRegistry {
    /// @notice Role allowed to create tasks and commit rounds.
    bytes32 public constant COORDINATOR_ROLE = keccak256("COORDINATOR_ROLE");

    /// @dev `checkpoint` is never zero for a known task, so it doubles as the existence flag.
    struct TaskHead {
        bytes32 checkpoint;
        uint256 lastRound;
    }

    RewardDistributor private immutable _distributor;
    mapping(uint256 task => TaskHead) private _heads;

    /// @notice A task was registered with its genesis checkpoint.
    event TaskCreated(uint256 indexed task, bytes32 indexed initialCheckpoint);

    /**
     * @notice A round was appended to a task's history.
     * @dev `uri` (where the checkpoint and manifest can be fetched) is only in the event, never stored.
     * `participationRoot` is reserved for zero-knowledge participation proofs (zero until then).
     */
    event RoundCommitted(
        uint256 indexed task,
        uint256 indexed round,
        bytes32 indexed checkpointHash,
        bytes32 parentHash,
        bytes32 manifestHash,
        bytes32 rewardsRoot,
        bytes32 participationRoot,
        string uri,
        uint256 reward
    );

    /// @notice The task id is not registered.
    error RegistryUnknownTask(uint256 task);
    /// @notice The task id is already registered.
    error RegistryTaskExists(uint256 task);
    /// @notice A checkpoint hash was zero (zero marks "no checkpoint").
    error RegistryInvalidCheckpoint(uint256 task);
    /// @notice The round was already committed: it is the task's last round.
    error RegistryRoundAlreadyCommitted(uint256 task, uint256 round);
    /// @notice The round is not newer than the task's last round (rounds start at 1 and only grow).
    error RegistryRoundOutOfOrder(uint256 task, uint256 round, uint256 lastRound);
    /// @notice The round's parent is not the task's latest checkpoint.
    error RegistryParentMismatch(uint256 task, bytes32 expected, bytes32 actual);
    /// @notice A constructor address was zero.
    error RegistryInvalidAddress();

    /**
     * @param admin Holder of the admin role, which grants and revokes the coordinator role.
     * @param coordinator First holder of {COORDINATOR_ROLE}.
     * @param rewardToken ERC-20 the distributor pays rewards in.
     * @param claimVerifier Deployed Groth16 verifier of the claim circuit, which the distributor checks
     * private claims with (the distributor reverts when the address holds no code).
     */
    constructor(address admin, address coordinator, IERC20 rewardToken, IClaimVerifier claimVerifier) {
        if (
            admin == address(0) || coordinator == address(0) || address(rewardToken) == address(0)
                || address(claimVerifier) == address(0)
        ) {
            revert RegistryInvalidAddress();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(COORDINATOR_ROLE, coordinator);
        _distributor = new RewardDistributor(rewardToken, claimVerifier);
    }

    /**
     * @notice Registers `task` with its genesis checkpoint, the parent of its first round.
     * @dev Reverts with {RegistryTaskExists} for a known task and {RegistryInvalidCheckpoint} for a zero hash.
     * @param task Task id, chosen by the coordinator.
     * @param initialCheckpoint keccak256 of the task's initial checkpoint bytes.
     */
    function createTask(uint256 task, bytes32 initialCheckpoint) external onlyRole(COORDINATOR_ROLE) {
        if (_heads[task].checkpoint != 0) revert RegistryTaskExists(task);
        if (initialCheckpoint == 0) revert RegistryInvalidCheckpoint(task);
        _heads[task].checkpoint = initialCheckpoint;
        emit TaskCreated(task, initialCheckpoint);
    }

    /**
     * @notice Appends round `round` of `task`, built on `parentHash`, and allocates its `reward`.
     * @dev Rounds only move forward: a round that failed off-chain is never committed, so gaps are
     * fine, but a repeated round reverts with {RegistryRoundAlreadyCommitted} and an older one (or
     * round 0) with {RegistryRoundOutOfOrder}. `parentHash` must be the task's latest checkpoint
     * ({RegistryParentMismatch}). A non-zero `reward` is taken from the task's budget in the
     * distributor, which reverts when the budget is short or `rewardsRoot` is zero.
     * @param task Task id.
     * @param round Round number, greater than the task's last committed round.
     * @param checkpointHash keccak256 of the new checkpoint; becomes the task's latest checkpoint.
     * @param parentHash keccak256 of the checkpoint the round started from.
     * @param manifestHash keccak256 of the round's off-chain manifest (accepted updates, scores).
     * @param rewardsRoot Root of the StandardMerkleTree of (address, uint256) reward leaves, or of
     * (uint256 nullifier, uint256) leaves in a private task (claimed with a zero-knowledge proof).
     * @param participationRoot Reserved for zero-knowledge participation proofs; zero for now.
     * @param uri Where the checkpoint and manifest can be fetched; emitted, not stored.
     * @param reward Total reward of the round, in reward-token units.
     */
    function commitRound(
        uint256 task,
        uint256 round,
        bytes32 checkpointHash,
        bytes32 parentHash,
        bytes32 manifestHash,
        bytes32 rewardsRoot,
        bytes32 participationRoot,
        string calldata uri,
        uint256 reward
    ) external onlyRole(COORDINATOR_ROLE) {
        _advance(task, round, checkpointHash, parentHash);
        // A round without reward has nothing to claim, so it skips the external call entirely.
        if (reward != 0) _distributor.allocate(task, round, rewardsRoot, reward);
        emit RoundCommitted(
            task, round, checkpointHash, parentHash, manifestHash, rewardsRoot, participationRoot, uri, reward
        );
    }

    /// @notice The distributor this registry created and allocates rewards from.
    function distributor() external view returns (RewardDistributor) {
        return _distributor;
    }

    /// @notice Whether `task` is registered.
    function taskExists(uint256 task) external view returns (bool) {
        return _heads[task].checkpoint != 0;
    }

    /**
     * @notice The latest checkpoint of `task`: its last committed round's, else its initial one.
     * @dev Reverts with {RegistryUnknownTask} for an unregistered task.
     */
    function latestCheckpoint(uint256 task) external view returns (bytes32) {
        return _head(task).checkpoint;
    }

    /**
     * @notice The last committed round of `task` (0 before its first commit).
     * @dev Reverts with {RegistryUnknownTask} for an unregistered task.
     */
    function lastRound(uint256 task) external view returns (uint256) {
        return _head(task).lastRound;
    }

    /// @dev Checks that the round extends the task's head, then moves the head (kept apart from
    /// commitRound so the nine-argument event does not run out of stack slots).
    function _advance(uint256 task, uint256 round, bytes32 checkpointHash, bytes32 parentHash) private {
        TaskHead storage head = _heads[task];
        bytes32 current = head.checkpoint;
        if (current == 0) revert RegistryUnknownTask(task);
        uint256 last = head.lastRound;
        if (round <= last) {
            if (round == last && last != 0) revert RegistryRoundAlreadyCommitted(task, round);
            revert RegistryRoundOutOfOrder(task, round, last);
        }
        if (parentHash != current) revert RegistryParentMismatch(task, current, parentHash);
        if (checkpointHash == 0) revert RegistryInvalidCheckpoint(task);
        head.checkpoint = checkpointHash;
        head.lastRound = round;
    }

    function _head(uint256 task) private view returns (TaskHead storage head) {
        head = _heads[task];
        if (head.checkpoint == 0) revert RegistryUnknownTask(task);
    }
}
