// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @dev The part of the registry the distributor reads (kept minimal to avoid a circular import).
interface ITaskRegistry {
    function taskExists(uint256 task) external view returns (bool);
}

/**
 * @title RewardDistributor
 * @notice Holds an ERC-20 reward budget per task and pays each round's contributors by Merkle proof.
 *
 * Money flow: anyone may {fund} a registered task (tokens only ever leave through claims, so a
 * sponsor cannot hurt anyone by adding to a budget). When the registry commits a round with a
 * reward, it calls {allocate}, which moves the reward from the task's budget into the round and
 * records the round's rewards root; a short budget reverts the whole commit. Contributors then
 * {claim} their own leaf of the round's tree (pull payment), once per round.
 *
 * Binding: the registry deploys this contract in its own constructor, so `registry` (the deployer)
 * is the only account that can ever allocate, and the pair cannot be mis-wired.
 *
 * Leaves are those of OpenZeppelin's StandardMerkleTree for ['address', 'uint256']:
 * `keccak256(bytes.concat(keccak256(abi.encode(account, amount))))`. Hashing twice keeps a 64-byte
 * leaf preimage from ever being mistaken for an inner node.
 */
contract RewardDistributor is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Two slots: the root, then reward and claimed packed so a claim reads and writes one slot.
    /// A zero root means the round has no rewards here (never committed, or committed with none).
    struct RoundRewards {
        bytes32 rewardsRoot;
        uint128 reward;
        uint128 claimed;
    }

    /// @notice Token every reward is paid in.
    IERC20 public immutable token;
    /// @notice The registry that created this distributor; the only account allowed to allocate.
    address public immutable registry;

    mapping(uint256 task => uint256) private _budget;
    mapping(uint256 task => mapping(uint256 round => RoundRewards)) private _rounds;
    /// @dev Claimed flags, one bit per round, 256 rounds per word and one word set per (task, account):
    /// an account claiming several rounds of a task pays for a new storage slot only once in 256 rounds.
    mapping(uint256 task => mapping(address account => mapping(uint256 word => uint256 bits))) private _claimed;

    /// @notice `amount` tokens were added to the budget of `task` by `funder`.
    event Funded(uint256 indexed task, address indexed funder, uint256 amount);
    /// @notice `reward` tokens of the budget of `task` were set aside for `round`.
    event RewardsAllocated(uint256 indexed task, uint256 indexed round, uint256 reward);
    /// @notice `account` claimed `amount` tokens of the reward of `round` of `task`.
    event Claimed(uint256 indexed task, uint256 indexed round, address indexed account, uint256 amount);

    /// @notice Only the registry may allocate.
    error DistributorUnauthorizedCaller(address caller);
    /// @notice The task is not registered in the registry.
    error DistributorUnknownTask(uint256 task);
    /// @notice An amount was zero where tokens must move.
    error DistributorZeroAmount();
    /// @notice The task's budget cannot cover a round's reward.
    error DistributorBudgetShort(uint256 task, uint256 needed, uint256 available);
    /// @notice A round with a reward must name the root of its rewards tree.
    error DistributorMissingRewardsRoot(uint256 task, uint256 round);
    /// @notice The round already has rewards allocated.
    error DistributorRoundAlreadyAllocated(uint256 task, uint256 round);
    /// @notice The round has no rewards here: never committed, or committed without a reward.
    error DistributorUnknownRound(uint256 task, uint256 round);
    /// @notice The account already claimed this round.
    error DistributorAlreadyClaimed(uint256 task, uint256 round, address account);
    /// @notice (account, amount) is not a leaf of the round's rewards tree.
    error DistributorInvalidProof(uint256 task, uint256 round, address account, uint256 amount);
    /// @notice Paying `amount` would take the round's claims past its reward.
    error DistributorOverClaim(uint256 task, uint256 round, uint256 amount, uint256 remaining);
    /// @notice The token address was zero.
    error DistributorInvalidToken();

    /// @param rewardToken ERC-20 paid out; the deployer (the registry) becomes the allocator.
    constructor(IERC20 rewardToken) {
        if (address(rewardToken) == address(0)) revert DistributorInvalidToken();
        token = rewardToken;
        registry = msg.sender;
    }

    /**
     * @notice Adds `amount` tokens, pulled from the caller, to the reward budget of `task`.
     * @dev The caller must have approved this contract for `amount`. The budget grows by what actually
     * arrived (a fee-on-transfer token delivers less than `amount`), so budgets never exceed the
     * balance. nonReentrant keeps a token callback from re-entering between the two balance reads,
     * which would count the same tokens twice.
     * @param task Registered task id ({DistributorUnknownTask} otherwise).
     * @param amount Tokens to pull; zero reverts with {DistributorZeroAmount}.
     */
    function fund(uint256 task, uint256 amount) external nonReentrant {
        if (amount == 0) revert DistributorZeroAmount();
        if (!ITaskRegistry(registry).taskExists(task)) revert DistributorUnknownTask(task);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        _budget[task] += received;
        emit Funded(task, msg.sender, received);
    }

    /**
     * @notice Sets `reward` tokens of the budget of `task` aside for `round`, claimable against `rewardsRoot`.
     * @dev Called by the registry inside `commitRound`, so it reverts that commit on failure:
     * {DistributorUnauthorizedCaller}, {DistributorMissingRewardsRoot}, {DistributorBudgetShort},
     * {DistributorRoundAlreadyAllocated} (the registry's append-only rule already prevents it).
     * @param task Task id.
     * @param round Round being committed.
     * @param rewardsRoot Root of the round's StandardMerkleTree of (address, uint256) leaves.
     * @param reward Tokens set aside; the sum of the tree's amounts must not exceed it.
     */
    function allocate(uint256 task, uint256 round, bytes32 rewardsRoot, uint256 reward) external {
        if (msg.sender != registry) revert DistributorUnauthorizedCaller(msg.sender);
        if (rewardsRoot == 0) revert DistributorMissingRewardsRoot(task, round);
        RoundRewards storage r = _rounds[task][round];
        if (r.rewardsRoot != 0) revert DistributorRoundAlreadyAllocated(task, round);
        uint256 available = _budget[task];
        if (reward > available) revert DistributorBudgetShort(task, reward, available);
        unchecked {
            _budget[task] = available - reward;
        }
        r.rewardsRoot = rewardsRoot;
        r.reward = SafeCast.toUint128(reward);
        emit RewardsAllocated(task, round, reward);
    }

    /**
     * @notice Pays the caller its reward for `round` of `task`, once.
     * @dev Checks, then effects, then the token transfer (and nonReentrant on top), so a hostile token
     * cannot claim twice. Reverts with {DistributorUnknownRound}, {DistributorZeroAmount},
     * {DistributorAlreadyClaimed}, {DistributorInvalidProof} (including an amount other than the
     * leaf's, or someone else's proof) or {DistributorOverClaim} (a tree whose amounts add up to more
     * than the round's reward pays out only up to the reward).
     * @param task Task id.
     * @param round Round id.
     * @param amount The caller's amount in the round's tree, exactly.
     * @param proof StandardMerkleTree proof of the leaf (msg.sender, amount).
     */
    function claim(uint256 task, uint256 round, uint256 amount, bytes32[] calldata proof) external nonReentrant {
        RoundRewards storage r = _rounds[task][round];
        bytes32 root = r.rewardsRoot;
        if (root == 0) revert DistributorUnknownRound(task, round);
        if (amount == 0) revert DistributorZeroAmount();

        mapping(uint256 => uint256) storage words = _claimed[task][msg.sender];
        uint256 bits = words[round >> 8];
        uint256 mask = 1 << (round & 0xff);
        if (bits & mask != 0) revert DistributorAlreadyClaimed(task, round, msg.sender);

        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) {
            revert DistributorInvalidProof(task, round, msg.sender, amount);
        }

        uint256 claimed = r.claimed;
        uint256 remaining = r.reward - claimed;
        if (amount > remaining) revert DistributorOverClaim(task, round, amount, remaining);

        words[round >> 8] = bits | mask;
        // Cannot truncate: claimed + amount <= reward, and reward fits in 128 bits.
        r.claimed = uint128(claimed + amount);
        emit Claimed(task, round, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Tokens of `task` not yet allocated to a round.
    function budgetOf(uint256 task) external view returns (uint256) {
        return _budget[task];
    }

    /**
     * @notice What the distributor knows of `round` of `task`: its rewards root, reward and the total
     * claimed so far. All zero when the round has no rewards here.
     */
    function roundRewards(uint256 task, uint256 round)
        external
        view
        returns (bytes32 rewardsRoot, uint256 reward, uint256 claimed)
    {
        RoundRewards storage r = _rounds[task][round];
        return (r.rewardsRoot, r.reward, r.claimed);
    }

    /// @notice Whether `account` has claimed its reward for `round` of `task`.
    function isClaimed(uint256 task, uint256 round, address account) external view returns (bool) {
        return _claimed[task][account][round >> 8] & (1 << (round & 0xff)) != 0;
    }
}
