// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IClaimVerifier} from "./IClaimVerifier.sol";

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
 * Leaves are those of OpenZeppelin's StandardMerkleTree for ['uint256', 'address', 'uint256'],
 * (index, account, amount): `keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))`.
 * Hashing twice keeps a leaf preimage from ever being mistaken for an inner node. `index` is the
 * leaf's position among the round's paid accounts (0, 1, 2, ... in manifest order, which the auditor
 * recomputes), and it is what the claimed flag is keyed by: the flags of leaves 0 to 63 live in the
 * round's reward slot, which the commit already made non-zero and every claim rewrites anyway, so
 * a claim never pays for a fresh storage slot of its own (22,100 gas, a quarter of a claim). Leaves
 * from 64 on share one overflow word per 256, whose first claimer pays that slot.
 *
 * Private rounds: a task whose members should not be linkable to their rewards commits trees of
 * ['uint256', 'uint256'] leaves, (nullifier, amount), where nullifier = Poseidon(secret, task, round)
 * of the member's identity secret. The member (or any relayer it hands the proof to) then calls
 * {claimPrivate} with a Groth16 proof, checked by {claimVerifier}, that it knows the secret behind the
 * nullifier and names the recipient; each nullifier is paid once.
 *
 * No per-task mode flag is needed (it would cost every claim a storage read), because neither kind of
 * leaf can be claimed the other way: a public leaf's preimage is three 32-byte words and a private
 * one's two, so no leaf hash of one kind is the leaf hash of the other (short of a keccak256
 * collision).
 */
contract RewardDistributor is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Two slots: the root, then reward, claimed and the claimed flags of leaves 0 to 63 packed
    /// so that a claim reads and writes one slot, already non-zero. 96 bits hold 7.9e28 base units
    /// (79 billion tokens of 18 decimals) per round. A zero root means the round has no rewards here
    /// (never committed, or committed with none).
    struct RoundRewards {
        bytes32 rewardsRoot;
        uint96 reward;
        uint96 claimed;
        uint64 claimedLow;
    }

    /// @dev Leaves whose claimed flag sits in the round's reward slot (indices 0 to PACKED_LEAVES - 1).
    uint256 private constant PACKED_LEAVES = 64;

    /// @notice Token every reward is paid in.
    IERC20 public immutable token;
    /// @notice Groth16 verifier of the claim circuit, which {claimPrivate} checks every proof with.
    IClaimVerifier public immutable claimVerifier;
    /// @notice The registry that created this distributor; the only account allowed to allocate.
    address public immutable registry;

    mapping(uint256 task => uint256) private _budget;
    mapping(uint256 task => mapping(uint256 round => RoundRewards)) private _rounds;
    /// @dev Claimed flags of leaves from PACKED_LEAVES on: leaf `index` is bit `index & 0xff` of word
    /// `index >> 8` (bits 0 to 63 of word 0 stay unused: those leaves are flagged in the round slot).
    mapping(uint256 task => mapping(uint256 round => mapping(uint256 word => uint256 bits))) private _claimedHigh;
    /// @dev Nullifiers already paid by {claimPrivate}. One set for all tasks and rounds: the circuit
    /// binds a nullifier to its task and round (it is Poseidon(secret, task, round)), so the same value
    /// never stands for two rounds.
    mapping(uint256 nullifier => bool) private _nullifierSpent;

    /// @notice `amount` tokens were added to the budget of `task` by `funder`.
    event Funded(uint256 indexed task, address indexed funder, uint256 amount);
    /// @notice `reward` tokens of the budget of `task` were set aside for `round`.
    event RewardsAllocated(uint256 indexed task, uint256 indexed round, uint256 reward);
    /// @notice `account` claimed `amount` tokens of the reward of `round` of `task`.
    event Claimed(uint256 indexed task, uint256 indexed round, address indexed account, uint256 amount);
    /// @notice The holder of `nullifier` had `amount` tokens of the reward of `round` of `task` paid to `recipient`.
    event PrivateClaimed(
        uint256 indexed task, uint256 indexed round, uint256 indexed nullifier, address recipient, uint256 amount
    );

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
    /// @notice Leaf `index` of the round was already claimed (by `account`, the only one who can).
    error DistributorAlreadyClaimed(uint256 task, uint256 round, uint256 index, address account);
    /// @notice (index, account, amount) is not a leaf of the round's rewards tree.
    error DistributorInvalidProof(uint256 task, uint256 round, uint256 index, address account, uint256 amount);
    /// @notice Paying `amount` would take the round's claims past its reward.
    error DistributorOverClaim(uint256 task, uint256 round, uint256 amount, uint256 remaining);
    /// @notice (nullifier, amount) is not a leaf of the round's (private) rewards tree.
    error DistributorInvalidMerkleProof(uint256 task, uint256 round, uint256 nullifier, uint256 amount);
    /// @notice The Groth16 proof does not show knowledge of the nullifier's secret for this task, round and recipient.
    error DistributorInvalidZkProof(uint256 task, uint256 round, uint256 nullifier);
    /// @notice The nullifier's reward was already paid.
    error DistributorNullifierSpent(uint256 nullifier);
    /// @notice A private claim named the zero address as its recipient.
    error DistributorZeroRecipient();
    /// @notice The token address was zero.
    error DistributorInvalidToken();
    /// @notice The claim verifier address holds no code.
    error DistributorInvalidClaimVerifier(address verifier);

    /**
     * @param rewardToken ERC-20 paid out; the deployer (the registry) becomes the allocator.
     * @param verifier Groth16 verifier of the claim circuit; must already be deployed, since a verifier
     * address without code would make every private claim revert, for good (it is immutable).
     */
    constructor(IERC20 rewardToken, IClaimVerifier verifier) {
        if (address(rewardToken) == address(0)) revert DistributorInvalidToken();
        if (address(verifier).code.length == 0) revert DistributorInvalidClaimVerifier(address(verifier));
        token = rewardToken;
        claimVerifier = verifier;
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
     * @param rewardsRoot Root of the round's StandardMerkleTree of (uint256, address, uint256) leaves, or of
     * (uint256 nullifier, uint256) leaves in a private task.
     * @param reward Tokens set aside, below 2^96 (SafeCast reverts otherwise); the sum of the tree's
     * amounts must not exceed it.
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
        r.reward = SafeCast.toUint96(reward);
        emit RewardsAllocated(task, round, reward);
    }

    /**
     * @notice Pays the caller its reward for `round` of `task`, once.
     * @dev Checks, then effects, then the token transfer (and nonReentrant on top), so a hostile token
     * cannot claim twice. Reverts with {DistributorUnknownRound}, {DistributorZeroAmount},
     * {DistributorInvalidProof} (including an amount or index other than the leaf's, or someone
     * else's proof), {DistributorAlreadyClaimed} or {DistributorOverClaim} (a tree whose amounts add
     * up to more than the round's reward pays out only up to the reward).
     * @param task Task id.
     * @param round Round id.
     * @param index The caller's leaf index in the round's tree.
     * @param amount The caller's amount in the round's tree, exactly.
     * @param proof StandardMerkleTree proof of the leaf (index, msg.sender, amount).
     */
    function claim(uint256 task, uint256 round, uint256 index, uint256 amount, bytes32[] calldata proof)
        external
        nonReentrant
    {
        RoundRewards storage r = _rounds[task][round];
        bytes32 root = r.rewardsRoot;
        if (root == 0) revert DistributorUnknownRound(task, round);
        if (amount == 0) revert DistributorZeroAmount();

        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, msg.sender, amount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) {
            revert DistributorInvalidProof(task, round, index, msg.sender, amount);
        }

        if (index < PACKED_LEAVES) {
            // One read and one write of the round slot: flag, total and reward together.
            uint64 low = r.claimedLow;
            uint64 bit = uint64(1) << uint64(index);
            if (low & bit != 0) revert DistributorAlreadyClaimed(task, round, index, msg.sender);
            _debit(r, task, round, amount, low | bit);
        } else {
            mapping(uint256 => uint256) storage words = _claimedHigh[task][round];
            uint256 bits = words[index >> 8];
            uint256 mask = 1 << (index & 0xff);
            if (bits & mask != 0) revert DistributorAlreadyClaimed(task, round, index, msg.sender);
            _debit(r, task, round, amount, r.claimedLow);
            words[index >> 8] = bits | mask;
        }
        emit Claimed(task, round, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /**
     * @notice Pays the reward of the private leaf (`nullifier`, `amount`) of `round` of `task` to
     * `recipient`, once per nullifier, against a Groth16 proof of knowledge of the nullifier's secret.
     * @dev Anyone may submit the claim (a relayer, so the member's own address never touches the
     * chain): the proof binds `recipient` as a public signal, so a copy taken from the mempool cannot
     * be redirected, and Groth16's malleability (a valid proof can be re-randomised into another) is
     * harmless because the nullifier, not the proof, is what is spent. Checks, then effects, then the
     * token transfer, under nonReentrant; the verifier is only ever staticcalled. Cheap checks come
     * first so a doomed claim fails before paying for the pairing. Reverts with
     * {DistributorZeroRecipient}, {DistributorNullifierSpent}, {DistributorUnknownRound},
     * {DistributorZeroAmount}, {DistributorInvalidMerkleProof} (including an amount other than the
     * leaf's), {DistributorInvalidZkProof} (including a proof made for another recipient, task or
     * round, and a leaf of a public round read as a nullifier: see the contract's notes on cross-mode
     * claims) or {DistributorOverClaim}.
     * @param task Task id (public signal 0).
     * @param round Round id (public signal 1).
     * @param nullifier Poseidon(secret, task, round), the leaf's key (public signal 2).
     * @param amount The leaf's amount in the round's tree, exactly.
     * @param recipient Account paid (public signal 3, as uint256(uint160(recipient))).
     * @param merkleProof StandardMerkleTree proof of the leaf (nullifier, amount).
     * @param zkProof Groth16 proof packed as [a0, a1, b00, b01, b10, b11, c0, c1], in the order the
     * verifier takes it (B's coordinates already swapped as snarkjs exports them for Solidity).
     */
    function claimPrivate(
        uint256 task,
        uint256 round,
        uint256 nullifier,
        uint256 amount,
        address recipient,
        bytes32[] calldata merkleProof,
        uint256[8] calldata zkProof
    ) external nonReentrant {
        if (recipient == address(0)) revert DistributorZeroRecipient();
        if (_nullifierSpent[nullifier]) revert DistributorNullifierSpent(nullifier);
        RoundRewards storage r = _rounds[task][round];
        bytes32 root = r.rewardsRoot;
        if (root == 0) revert DistributorUnknownRound(task, round);
        if (amount == 0) revert DistributorZeroAmount();

        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(nullifier, amount))));
        if (!MerkleProof.verifyCalldata(merkleProof, root, leaf)) {
            revert DistributorInvalidMerkleProof(task, round, nullifier, amount);
        }
        if (!_verifyClaimProof(task, round, nullifier, recipient, zkProof)) {
            revert DistributorInvalidZkProof(task, round, nullifier);
        }

        _debit(r, task, round, amount, r.claimedLow);
        _nullifierSpent[nullifier] = true;
        emit PrivateClaimed(task, round, nullifier, recipient, amount);
        token.safeTransfer(recipient, amount);
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

    /// @notice Whether leaf `index` of the rewards tree of `round` of `task` has been claimed.
    function isClaimed(uint256 task, uint256 round, uint256 index) external view returns (bool) {
        if (index < PACKED_LEAVES) return _rounds[task][round].claimedLow & (uint64(1) << uint64(index)) != 0;
        return _claimedHigh[task][round][index >> 8] & (1 << (index & 0xff)) != 0;
    }

    /// @notice Whether the reward of the private leaf keyed by `nullifier` has been paid.
    function isNullifierSpent(uint256 nullifier) external view returns (bool) {
        return _nullifierSpent[nullifier];
    }

    /**
     * @dev Books `amount` as claimed from round `r` and stores `claimedLow` (the packed leaves' flags)
     * in the same write: the accounting both claim paths share. Whatever the tree says, a round
     * never pays out more than its reward ({DistributorOverClaim}). (The four-line round lookup
     * before it stays inline in each path: as a helper returning a storage pointer it cost every
     * claim another 70 gas.)
     */
    function _debit(RoundRewards storage r, uint256 task, uint256 round, uint256 amount, uint64 claimedLow) private {
        uint96 reward = r.reward;
        uint256 claimed = r.claimed;
        uint256 remaining = reward - claimed;
        if (amount > remaining) revert DistributorOverClaim(task, round, amount, remaining);
        // Cannot truncate: claimed + amount <= reward, and reward fits in 96 bits.
        r.claimed = uint96(claimed + amount);
        r.claimedLow = claimedLow;
    }

    /// @dev Unpacks `p` into the verifier's A, B, C and checks it against the claim's public signals,
    /// in the circuit's order (kept apart from claimPrivate, whose calldata already fills the stack).
    function _verifyClaimProof(
        uint256 task,
        uint256 round,
        uint256 nullifier,
        address recipient,
        uint256[8] calldata p
    ) private view returns (bool) {
        uint256[4] memory signals = [task, round, nullifier, uint256(uint160(recipient))];
        return claimVerifier.verifyProof([p[0], p[1]], [[p[2], p[3]], [p[4], p[5]]], [p[6], p[7]], signals);
    }
}
