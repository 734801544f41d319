import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnits, ZeroHash, type Interface } from 'ethers';
import type { RewardDistributor } from '../../contracts/artifacts.ts';
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
    const receipt = await mined(distributorAs(2).claim(task, round, T(30), tree.proofOf(a2)));
    assert.equal(await balance(a2), before + T(30));
    const claimed = receipt.logs.map((l) => chain.d.distributor.interface.parseLog(l)).find((l) => l?.name === 'Claimed');
    assert.deepEqual([...claimed!.args].map((v) => (typeof v === 'string' ? v.toLowerCase() : v)), [BigInt(task), BigInt(round), a2, T(30)]);
    assert.equal(await chain.d.distributor.isClaimed(task, round, a2), true);
    assert.equal(await chain.d.distributor.isClaimed(task, round, a1), false);
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(30));

    await expectRevert(distributorAs(2).claim(task, round, T(30), tree.proofOf(a2)), errors, 'DistributorAlreadyClaimed', [task, round, a2]);
    assert.equal(await balance(a2), before + T(30), 'paid once');

    // Everyone else claims too: the round pays out exactly its reward.
    await mined(distributorAs(1).claim(task, round, T(50), tree.proofOf(a1)));
    await mined(distributorAs(3).claim(task, round, T(20), tree.proofOf(a3)));
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
    await expectRevert(distributorAs(2).claim(task, round, T(5), tree.proofOf(a2)), errors, 'DistributorInvalidProof', [task, round, a2, T(5)]);
    await expectRevert(distributorAs(2).claim(task, round, T(3), tree.proofOf(a2)), errors, 'DistributorInvalidProof', [task, round, a2, T(3)]);
    // A proof that belongs to another leaf, a tampered one, none at all.
    await expectRevert(distributorAs(2).claim(task, round, T(4), tree.proofOf(a1)), errors, 'DistributorInvalidProof');
    await expectRevert(distributorAs(2).claim(task, round, T(4), [h('tampered')]), errors, 'DistributorInvalidProof');
    await expectRevert(distributorAs(2).claim(task, round, T(4), []), errors, 'DistributorInvalidProof');
    // Someone outside the tree replaying a1's amount and proof: the leaf is bound to msg.sender.
    await expectRevert(distributorAs(4).claim(task, round, T(6), tree.proofOf(a1)), errors, 'DistributorInvalidProof', [task, round, a4, T(6)]);
    // a2 claiming with a1's leaf (a1's amount and proof) is the same thing.
    await expectRevert(distributorAs(2).claim(task, round, T(6), tree.proofOf(a1)), errors, 'DistributorInvalidProof', [task, round, a2, T(6)]);

    // None of that consumed anything.
    await mined(distributorAs(1).claim(task, round, T(6), tree.proofOf(a1)));
    await mined(distributorAs(2).claim(task, round, T(4), tree.proofOf(a2)));
  });

  test('claims on a round without rewards, and zero claims, are refused', async () => {
    const a1 = chain.addresses[1]!;
    const { task, commit } = await fundedTask(T(10));
    const zeroTree = rewardsTree([
      [a1, 0n],
      [chain.addresses[2]!, T(1)],
    ]);
    await expectRevert(distributorAs(1).claim(task, 1, T(1), []), errors, 'DistributorUnknownRound', [task, 1]);
    const { round: unrewarded } = await commit(ZeroHash, 0n);
    await expectRevert(distributorAs(1).claim(task, unrewarded, T(1), []), errors, 'DistributorUnknownRound', [task, unrewarded]);
    const { round } = await commit(zeroTree.root, T(1));
    // Rejected updates score zero; their leaves exist but pay nothing.
    await expectRevert(distributorAs(1).claim(task, round, 0n, zeroTree.proofOf(a1)), errors, 'DistributorZeroAmount');
    await expectRevert(distributorAs(1).claim(task + 1000, round, T(1), []), errors, 'DistributorUnknownRound', [task + 1000, round]);
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
    await mined(distributorAs(1).claim(task, round, T(60), tree.proofOf(a1)));
    await expectRevert(distributorAs(2).claim(task, round, T(60), tree.proofOf(a2)), errors, 'DistributorOverClaim', [task, round, T(60), T(40)]);
    await mined(distributorAs(3).claim(task, round, T(30), tree.proofOf(a3)));
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(90));
    // The rest of the task's budget is untouched by the faulty round.
    assert.equal(await chain.d.distributor.budgetOf(task), T(100));
  });

  test('claim gas from a 500-leaf tree is printed and within 80,000 for a recipient already holding tokens', async () => {
    const [zeroHolder, holder] = [chain.addresses[6]!, chain.addresses[7]!];
    const each = T(2);
    const { task, commit } = await fundedTask(each * 1000n);
    const entries: Array<[string, bigint]> = fillerAddresses(498, 'claim-gas').map((a) => [a, each]);
    entries.splice(137, 0, [zeroHolder, each]);
    entries.splice(401, 0, [holder, each]);
    const tree = rewardsTree(entries);
    const { round } = await commit(tree.root, each * 500n);
    await mined(chain.d.token.transfer(holder, T(1)));
    assert.equal(await balance(zeroHolder), 0n);

    /** Gas of a claim, and the same without its calldata (proofs differ in zero bytes, which calldata prices apart). */
    const claimGas = async (i: number, r: number, who: string) => {
      const receipt = await mined(distributorAs(i).claim(task, r, each, tree.proofOf(who)));
      const tx = await chain.provider.getTransaction(receipt.hash);
      return { total: receipt.gasUsed, execution: receipt.gasUsed - calldataGas(tx!.data) };
    };
    assert.equal(tree.proofOf(zeroHolder).length, tree.proofOf(holder).length, 'both leaves at the same depth');
    const zero = await claimGas(6, round, zeroHolder);
    const nonZero = await claimGas(7, round, holder);
    // The same holder's claim in a later round of the task finds its claimed-bits word already written.
    const { round: next } = await commit(tree.root, each * 500n);
    const repeat = await claimGas(7, next, holder);
    console.log(
      `gas: claim (500-leaf tree, ${tree.proofOf(holder).length}-hash proof): recipient balance zero ${zero.total}, non-zero ${nonZero.total}, ` +
        `non-zero and already claimed an earlier round of the task ${repeat.total}`,
    );
    assert.ok(nonZero.total <= 80_000n, `claim gas ${nonZero.total} <= 80,000`);
    // A recipient without tokens costs the ERC-20 a fresh storage slot for its balance (EIP-2200:
    // 20,000 instead of 2,900 gas); that premium, in the token and not in the distributor, is the
    // difference, give or take the few gas of sorting each proof pair in the commutative hash.
    const about = (gas: bigint, expected: bigint) => gas >= expected - 50n && gas <= expected + 50n;
    assert.ok(about(zero.execution - nonZero.execution, 17_100n), `zero-balance premium ${zero.execution - nonZero.execution}`);
    // A repeat claimant skips the fresh claimed-bits slot the same way.
    assert.ok(about(nonZero.execution - repeat.execution, 17_100n), `repeat-claimant saving ${nonZero.execution - repeat.execution}`);
  });
});
