import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnits, ZeroHash, type Interface } from 'ethers';
import type { RewardDistributor } from '../../contracts/artifacts.ts';
import { deployContracts } from '../../contracts/deploy.ts';
import { calldataGas, expectRevert, fillerAddresses, h, mined, rewardsTree, startChain, type Chain } from './chain.ts';

// RewardDistributor on a real anvil: funding, allocation at commit time, Merkle claims built with
// @openzeppelin/merkle-tree exactly as the coordinator will build them, and the gas of a claim.

const T = (n: number | string) => parseUnits(String(n), 18);

describe('RewardDistributor', () => {
  let chain: Chain;
  let errors: Interface[];
  let nextTask = 1;

  before(async () => {
    chain = await startChain();
    errors = [chain.d.distributor.interface, chain.d.registry.interface, chain.d.token.interface];
  });
  after(async () => chain?.stop());

  const distributorAs = (i: number): RewardDistributor => chain.d.distributor.connect(chain.signers[i]!);
  const balance = (account: string) => chain.d.token.balanceOf(account);

  /** A registered task with `budget` tokens funded by the deployer; tracks its head for commits. */
  async function fundedTask(budget: bigint) {
    const task = nextTask++;
    let head = h(`genesis:${task}`);
    let round = 0;
    await mined(chain.d.registry.createTask(task, head));
    if (budget > 0n) {
      await mined(chain.d.token.approve(chain.d.addresses.distributor, budget));
      await mined(chain.d.distributor.fund(task, budget));
    }
    /** Commits the next round with this rewards root and reward. */
    const commit = async (root: string, reward: bigint) => {
      round += 1;
      const checkpoint = h(`checkpoint:${task}:${round}`);
      const receipt = await mined(chain.d.registry.commitRound(task, round, checkpoint, head, h('manifest'), root, ZeroHash, 'fl://r', reward));
      head = checkpoint;
      return { round, receipt };
    };
    return { task, commit };
  }

  test('fund pulls approved tokens into the task budget, from anyone, for registered tasks only', async () => {
    const { task } = await fundedTask(0n);
    const deployer = chain.addresses[0]!;
    const before = await balance(deployer);
    await mined(chain.d.token.approve(chain.d.addresses.distributor, T(100)));
    const receipt = await mined(chain.d.distributor.fund(task, T(100)));
    assert.equal(await balance(deployer), before - T(100));
    assert.equal(await chain.d.distributor.budgetOf(task), T(100));
    const log = chain.d.distributor.interface.parseLog(receipt.logs.at(-1)!);
    assert.equal(log?.name, 'Funded');
    assert.deepEqual([...log!.args], [BigInt(task), await chain.signers[0]!.getAddress(), T(100)]);

    // A sponsor other than the coordinator may add to the budget.
    const sponsor = chain.signers[9]!;
    await mined(chain.d.token.transfer(chain.addresses[9]!, T(5)));
    await mined(chain.d.token.connect(sponsor).approve(chain.d.addresses.distributor, T(5)));
    await mined(distributorAs(9).fund(task, T(5)));
    assert.equal(await chain.d.distributor.budgetOf(task), T(105));

    await expectRevert(chain.d.distributor.fund(424242, T(1)), errors, 'DistributorUnknownTask', [424242]);
    await expectRevert(chain.d.distributor.fund(task, 0n), errors, 'DistributorZeroAmount');
    // No allowance left: the token's own error comes through SafeERC20.
    await expectRevert(chain.d.distributor.fund(task, T(1)), errors, 'ERC20InsufficientAllowance', [chain.d.addresses.distributor, 0n, T(1)]);
  });

  test('a committed reward moves from the task budget into the round, and a short budget refuses the commit', async () => {
    const { task, commit } = await fundedTask(T(50));
    const { root } = rewardsTree([[chain.addresses[1]!, T(30)]]);
    const { round, receipt } = await commit(root, T(30));
    assert.equal(await chain.d.distributor.budgetOf(task), T(20));
    const [r, reward, claimed] = await chain.d.distributor.roundRewards(task, round);
    assert.deepEqual([r, reward, claimed], [root, T(30), 0n]);
    const allocated = receipt.logs.map((l) => chain.d.distributor.interface.parseLog(l)).find((l) => l?.name === 'RewardsAllocated');
    assert.deepEqual([...allocated!.args], [BigInt(task), BigInt(round), T(30)]);

    await expectRevert(commit(root, T(21)), errors, 'DistributorBudgetShort', [task, T(21), T(20)]);
    assert.equal(await chain.d.distributor.budgetOf(task), T(20), 'nothing moved');
  });

  test('a valid claim pays exactly the leaf amount to the caller, once', async () => {
    const [a1, a2, a3] = [chain.addresses[1]!, chain.addresses[2]!, chain.addresses[3]!];
    const { task, commit } = await fundedTask(T(100));
    const tree = rewardsTree([
      [a1, T(50)],
      [a2, T(30)],
      [a3, T(20)],
    ]);
    const { round } = await commit(tree.root, T(100));

    const before = await balance(a2);
    const receipt = await mined(distributorAs(2).claim(task, round, tree.indexOf(a2), T(30), tree.proofOf(a2)));
    assert.equal(await balance(a2), before + T(30));
    const claimed = receipt.logs.map((l) => chain.d.distributor.interface.parseLog(l)).find((l) => l?.name === 'Claimed');
    assert.deepEqual([...claimed!.args].map((v) => (typeof v === 'string' ? v.toLowerCase() : v)), [BigInt(task), BigInt(round), a2, T(30)]);
    // Claimed flags are per leaf index: a2's leaf is index 1.
    assert.equal(await chain.d.distributor.isClaimed(task, round, 1), true);
    assert.equal(await chain.d.distributor.isClaimed(task, round, 0), false);
    assert.equal(await chain.d.distributor.isClaimed(task, round, 2), false);
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(30));

    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(30), tree.proofOf(a2)), errors, 'DistributorAlreadyClaimed', [task, round, 1, a2]);
    assert.equal(await balance(a2), before + T(30), 'paid once');

    // Everyone else claims too: the round pays out exactly its reward.
    await mined(distributorAs(1).claim(task, round, tree.indexOf(a1), T(50), tree.proofOf(a1)));
    await mined(distributorAs(3).claim(task, round, tree.indexOf(a3), T(20), tree.proofOf(a3)));
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(100));
  });

  test('a wrong amount, a bad proof or somebody else’s proof is refused', async () => {
    const [a1, a2, a4] = [chain.addresses[1]!, chain.addresses[2]!, chain.addresses[4]!];
    const { task, commit } = await fundedTask(T(10));
    const tree = rewardsTree([
      [a1, T(6)],
      [a2, T(4)],
    ]);
    const { round } = await commit(tree.root, T(10));

    // More (or less) than the leaf says.
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(5), tree.proofOf(a2)), errors, 'DistributorInvalidProof', [task, round, 1, a2, T(5)]);
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(3), tree.proofOf(a2)), errors, 'DistributorInvalidProof', [task, round, 1, a2, T(3)]);
    // A proof that belongs to another leaf, a tampered one, none at all.
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(4), tree.proofOf(a1)), errors, 'DistributorInvalidProof');
    // The right amount and proof under another leaf's index: the index is part of the leaf.
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a1), T(4), tree.proofOf(a2)), errors, 'DistributorInvalidProof', [task, round, 0, a2, T(4)]);
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(4), [h('tampered')]), errors, 'DistributorInvalidProof');
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(4), []), errors, 'DistributorInvalidProof');
    // Someone outside the tree replaying a1's amount and proof: the leaf is bound to msg.sender.
    await expectRevert(distributorAs(4).claim(task, round, tree.indexOf(a1), T(6), tree.proofOf(a1)), errors, 'DistributorInvalidProof', [task, round, 0, a4, T(6)]);
    // a2 claiming with a1's leaf (a1's amount and proof) is the same thing.
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a1), T(6), tree.proofOf(a1)), errors, 'DistributorInvalidProof', [task, round, 0, a2, T(6)]);

    // None of that consumed anything.
    await mined(distributorAs(1).claim(task, round, tree.indexOf(a1), T(6), tree.proofOf(a1)));
    await mined(distributorAs(2).claim(task, round, tree.indexOf(a2), T(4), tree.proofOf(a2)));
  });

  test('claims on a round without rewards, and zero claims, are refused', async () => {
    const a1 = chain.addresses[1]!;
    const { task, commit } = await fundedTask(T(10));
    const zeroTree = rewardsTree([
      [a1, 0n],
      [chain.addresses[2]!, T(1)],
    ]);
    await expectRevert(distributorAs(1).claim(task, 1, 0, T(1), []), errors, 'DistributorUnknownRound', [task, 1]);
    const { round: unrewarded } = await commit(ZeroHash, 0n);
    await expectRevert(distributorAs(1).claim(task, unrewarded, 0, T(1), []), errors, 'DistributorUnknownRound', [task, unrewarded]);
    const { round } = await commit(zeroTree.root, T(1));
    // Rejected updates score zero; their leaves exist but pay nothing.
    await expectRevert(distributorAs(1).claim(task, round, zeroTree.indexOf(a1), 0n, zeroTree.proofOf(a1)), errors, 'DistributorZeroAmount');
    await expectRevert(distributorAs(1).claim(task + 1000, round, 0, T(1), []), errors, 'DistributorUnknownRound', [task + 1000, round]);
  });

  test('no claim takes a round past its reward, even when the tree promises more', async () => {
    const [a1, a2, a3] = [chain.addresses[1]!, chain.addresses[2]!, chain.addresses[3]!];
    const { task, commit } = await fundedTask(T(200));
    // A faulty tree whose amounts add up to 150 for a reward of 100.
    const tree = rewardsTree([
      [a1, T(60)],
      [a2, T(60)],
      [a3, T(30)],
    ]);
    const { round } = await commit(tree.root, T(100));
    await mined(distributorAs(1).claim(task, round, tree.indexOf(a1), T(60), tree.proofOf(a1)));
    await expectRevert(distributorAs(2).claim(task, round, tree.indexOf(a2), T(60), tree.proofOf(a2)), errors, 'DistributorOverClaim', [task, round, T(60), T(40)]);
    await mined(distributorAs(3).claim(task, round, tree.indexOf(a3), T(30), tree.proofOf(a3)));
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(90));
    // The rest of the task's budget is untouched by the faulty round.
    assert.equal(await chain.d.distributor.budgetOf(task), T(100));
  });

  test('leaves past the 64 flagged in the round slot are claimed once each, through the overflow words', async () => {
    // Leaf indices 0-63 keep their claimed flag in the round's reward slot, the rest in words of 256
    // (64-255 in word 0, 256-511 in word 1). Claimants sit on each boundary.
    const spots = [63, 64, 255, 256];
    const signersAt = [1, 2, 3, 4];
    const entries: Array<[string, bigint]> = fillerAddresses(300, 'overflow').map((a) => [a, T(1)]);
    spots.forEach((at, k) => entries.splice(at, 1, [chain.addresses[signersAt[k]!]!, T(1)]));
    const { task, commit } = await fundedTask(T(300));
    const tree = rewardsTree(entries);
    const { round } = await commit(tree.root, T(300));
    for (const [k, at] of spots.entries()) {
      const who = chain.addresses[signersAt[k]!]!;
      assert.equal(tree.indexOf(who), at);
      assert.equal(await chain.d.distributor.isClaimed(task, round, at), false);
      await mined(distributorAs(signersAt[k]!).claim(task, round, at, T(1), tree.proofOf(who)));
      assert.equal(await chain.d.distributor.isClaimed(task, round, at), true, `leaf ${at} flagged`);
      await expectRevert(distributorAs(signersAt[k]!).claim(task, round, at, T(1), tree.proofOf(who)), errors, 'DistributorAlreadyClaimed', [task, round, at, who]);
    }
    // Only those four: no flag spilled onto a neighbour.
    for (const at of [0, 62, 65, 254, 257, 299]) assert.equal(await chain.d.distributor.isClaimed(task, round, at), false, `leaf ${at} untouched`);
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(4));
  });

  test('a round reward past 2^96 - 1 base units is refused at commit', async () => {
    // The shared deployment's token supply (1,000,000 tokens) is far below 2^96 base units, so this
    // test deploys its own registry, distributor and a token with a supply of 2^97.
    const max = (1n << 96n) - 1n;
    const own = await deployContracts(chain.signers[0]!, { initialSupply: 1n << 97n });
    const ownErrors = [own.distributor.interface, own.registry.interface];
    const genesis = h('genesis:cap');
    await mined(own.registry.createTask(1, genesis));
    await mined(own.token.approve(own.addresses.distributor, max + 1n));
    await mined(own.distributor.fund(1, max + 1n));
    const root = rewardsTree([[chain.addresses[1]!, max]]).root;
    await expectRevert(own.registry.commitRound(1, 1, h('c1'), genesis, h('m'), root, ZeroHash, 'fl://r', max + 1n), ownErrors, 'SafeCastOverflowedUintDowncast', [96, max + 1n]);
    await mined(own.registry.commitRound(1, 1, h('c1'), genesis, h('m'), root, ZeroHash, 'fl://r', max));
    assert.deepEqual([...(await own.distributor.roundRewards(1, 1))], [root, max, 0n]);
  });

  test('claim gas from a 500-leaf tree is printed and within 80,000 for a leaf flagged in the round slot, whatever the recipient holds', async () => {
    const [zeroHolder, holder, high1, high2] = [chain.addresses[6]!, chain.addresses[7]!, chain.addresses[8]!, chain.addresses[9]!];
    const each = T(2);
    const { task, commit } = await fundedTask(each * 1000n);
    const entries: Array<[string, bigint]> = fillerAddresses(500, 'claim-gas').map((a) => [a, each]);
    // Two leaves flagged in the round slot (indices below 64), two sharing overflow word 1 (256-511).
    for (const [at, who] of [[13, zeroHolder], [41, holder], [300, high1], [400, high2]] as const) entries[at] = [who, each];
    const tree = rewardsTree(entries);
    const { round } = await commit(tree.root, each * 500n);
    for (const who of [holder, high1, high2]) await mined(chain.d.token.transfer(who, T(1)));
    assert.equal(await balance(zeroHolder), 0n);

    /** Gas of a claim, and the same without its calldata (proofs and indices differ in zero bytes, which calldata prices apart). */
    const claimGas = async (i: number, who: string) => {
      const receipt = await mined(distributorAs(i).claim(task, round, tree.indexOf(who), each, tree.proofOf(who)));
      const tx = await chain.provider.getTransaction(receipt.hash);
      return { total: receipt.gasUsed, execution: receipt.gasUsed - calldataGas(tx!.data) };
    };
    const depth = tree.proofOf(holder).length;
    for (const who of [zeroHolder, high1, high2]) assert.equal(tree.proofOf(who).length, depth, 'all four leaves at the same depth');
    const zero = await claimGas(6, zeroHolder);
    const nonZero = await claimGas(7, holder);
    const highFirst = await claimGas(8, high1);
    const highSecond = await claimGas(9, high2);
    console.log(
      `gas: claim (500-leaf tree, ${depth}-hash proof), leaf below 64: recipient balance zero ${zero.total}, non-zero ${nonZero.total}; ` +
        `leaf 300 (first of its overflow word) ${highFirst.total}, leaf 400 (same word, second) ${highSecond.total}`,
    );
    assert.ok(zero.total <= 80_000n, `claim gas ${zero.total} <= 80,000 to an account holding no tokens`);
    assert.ok(nonZero.total <= 80_000n, `claim gas ${nonZero.total} <= 80,000`);
    // A recipient without tokens costs the ERC-20 a fresh storage slot for its balance (EIP-2200:
    // 20,000 instead of 2,900 gas); that premium, in the token and not in the distributor, is the
    // difference, give or take the few gas of sorting each proof pair in the commutative hash.
    const about = (gas: bigint, expected: bigint, slack = 50n) => gas >= expected - slack && gas <= expected + slack;
    assert.ok(about(zero.execution - nonZero.execution, 17_100n), `zero-balance premium ${zero.execution - nonZero.execution}`);
    // The first claim of an overflow word pays that word's fresh slot (22,100 cold) where a packed
    // leaf rewrites the round slot it writes anyway; the word's second claimer finds it written.
    assert.ok(about(highFirst.execution - highSecond.execution, 17_100n), `fresh overflow word ${highFirst.execution - highSecond.execution}`);
    assert.ok(highSecond.execution > nonZero.execution && highSecond.execution - nonZero.execution < 5_500n, `second in its word ${highSecond.execution} vs packed ${nonZero.execution}`);
  });
});
