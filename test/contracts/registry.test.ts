import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnits, ZeroAddress, ZeroHash, type Interface } from 'ethers';
import type { CheckpointRegistry } from '../../contracts/artifacts.ts';
import { attach, deploy } from '../../contracts/artifacts.ts';
import { calldataGas, expectRevert, fillerAddresses, h, mined, rewardsTree, startChain, type Chain } from './chain.ts';

// CheckpointRegistry on a real anvil: roles, the append-only round rules, the views, the event, the
// binding to its distributor and the gas of a commit.

describe('CheckpointRegistry', () => {
  let chain: Chain;
  let registry: CheckpointRegistry;
  let errors: Interface[];
  let nextTask = 1;
  const newTaskId = () => nextTask++;

  before(async () => {
    chain = await startChain();
    registry = chain.d.registry;
    errors = [chain.d.registry.interface, chain.d.distributor.interface];
  });
  after(async () => chain?.stop());

  /** Creates a task whose genesis checkpoint is h(`genesis:<task>`). */
  async function newTask(): Promise<{ task: number; genesis: string }> {
    const task = newTaskId();
    const genesis = h(`genesis:${task}`);
    await mined(registry.createTask(task, genesis));
    return { task, genesis };
  }

  interface CommitArgs {
    checkpoint: string;
    parent: string;
    root?: string;
    reward?: bigint;
    uri?: string;
    as?: CheckpointRegistry;
  }
  function commit(task: number, round: number, a: CommitArgs) {
    const r = a.as ?? registry;
    return r.commitRound(task, round, a.checkpoint, a.parent, h(`manifest:${task}:${round}`), a.root ?? ZeroHash, ZeroHash, a.uri ?? `fl://task/${task}/round/${round}`, a.reward ?? 0n);
  }

  test('the deployment wires registry, distributor, token and claim verifier together and gives the deployer both roles', async () => {
    const { d, addresses } = chain;
    assert.equal(await registry.distributor(), d.addresses.distributor);
    assert.equal(await d.distributor.registry(), d.addresses.registry);
    assert.equal(await d.distributor.token(), d.addresses.token);
    assert.equal(await d.distributor.claimVerifier(), d.addresses.claimVerifier);
    const deployer = addresses[0]!;
    assert.equal(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), deployer), true);
    assert.equal(await registry.hasRole(await registry.COORDINATOR_ROLE(), deployer), true);
    assert.equal(await registry.hasRole(await registry.COORDINATOR_ROLE(), addresses[1]!), false);
    assert.ok(d.blockNumber > 0);
  });

  test('the constructor refuses a zero address, and a claim verifier without code', async () => {
    const signer = chain.signers[0]!;
    const [admin, token, verifier] = [chain.addresses[0]!, chain.d.addresses.token, chain.d.addresses.claimVerifier];
    await expectRevert(deploy('CheckpointRegistry', signer, ZeroAddress, admin, token, verifier), errors, 'RegistryInvalidAddress');
    await expectRevert(deploy('CheckpointRegistry', signer, admin, ZeroAddress, token, verifier), errors, 'RegistryInvalidAddress');
    await expectRevert(deploy('CheckpointRegistry', signer, admin, admin, ZeroAddress, verifier), errors, 'RegistryInvalidAddress');
    await expectRevert(deploy('CheckpointRegistry', signer, admin, admin, token, ZeroAddress), errors, 'RegistryInvalidAddress');
    // An account without code (a typo, or a verifier not yet mined) would make every private claim
    // revert for good, since the verifier is immutable; the distributor's constructor refuses it.
    const eoa = chain.addresses[5]!;
    await expectRevert(deploy('CheckpointRegistry', signer, admin, admin, token, eoa), errors, 'DistributorInvalidClaimVerifier', [eoa]);
  });

  test('createTask registers the genesis checkpoint and emits TaskCreated', async () => {
    const task = newTaskId();
    const genesis = h('genesis');
    const receipt = await mined(registry.createTask(task, genesis));
    const log = registry.interface.parseLog(receipt.logs[0]!);
    assert.equal(log?.name, 'TaskCreated');
    assert.deepEqual([...log!.args], [BigInt(task), genesis]);
    assert.equal(await registry.taskExists(task), true);
    assert.equal(await registry.latestCheckpoint(task), genesis);
    assert.equal(await registry.lastRound(task), 0n);
    await expectRevert(registry.createTask(task, h('other')), errors, 'RegistryTaskExists', [task]);
    await expectRevert(registry.createTask(newTaskId(), ZeroHash), errors, 'RegistryInvalidCheckpoint');
  });

  test('only a coordinator can create tasks and commit rounds; the admin grants and revokes the role', async () => {
    const { genesis, task } = await newTask();
    const outsider = registry.connect(chain.signers[1]!);
    const role = await registry.COORDINATOR_ROLE();
    const who = chain.addresses[1]!;
    await expectRevert(outsider.createTask(newTaskId(), h('x')), errors, 'AccessControlUnauthorizedAccount', [who, role]);
    await expectRevert(commit(task, 1, { checkpoint: h('c1'), parent: genesis, as: outsider }), errors, 'AccessControlUnauthorizedAccount', [who, role]);
    // The coordinator role alone does not allow granting roles.
    await expectRevert(outsider.grantRole(role, who), errors, 'AccessControlUnauthorizedAccount');

    await mined(registry.grantRole(role, who));
    await mined(commit(task, 1, { checkpoint: h('c1'), parent: genesis, as: outsider }));
    assert.equal(await registry.lastRound(task), 1n);
    await mined(registry.revokeRole(role, who));
    await expectRevert(commit(task, 2, { checkpoint: h('c2'), parent: h('c1'), as: outsider }), errors, 'AccessControlUnauthorizedAccount');
  });

  test('commitRound moves the head and emits every field in RoundCommitted', async () => {
    const { task, genesis } = await newTask();
    const receipt = await mined(
      registry.commitRound(task, 1, h('c1:event'), genesis, h('manifest'), h('rewards'), h('participation'), 'ipfs://bafy-round-1', 0n),
    );
    const log = receipt.logs.map((l) => registry.interface.parseLog(l)).find((l) => l?.name === 'RoundCommitted');
    assert.ok(log);
    assert.deepEqual(log.args.toObject(), {
      task: BigInt(task),
      round: 1n,
      checkpointHash: h('c1:event'),
      parentHash: genesis,
      manifestHash: h('manifest'),
      rewardsRoot: h('rewards'),
      participationRoot: h('participation'),
      uri: 'ipfs://bafy-round-1',
      reward: 0n,
    });
    // The three indexed keys are topics, so an auditor can filter by task, round or checkpoint.
    const byCheckpoint = await registry.queryFilter(registry.filters.RoundCommitted(task, undefined, h('c1:event')));
    assert.equal(byCheckpoint.length, 1);
    assert.equal(await registry.latestCheckpoint(task), h('c1:event'));
    assert.equal(await registry.lastRound(task), 1n);
  });

  test('rounds are append-only: a duplicate or older round reverts, gaps are allowed', async () => {
    const { task, genesis } = await newTask();
    await expectRevert(commit(task, 0, { checkpoint: h('c0'), parent: genesis }), errors, 'RegistryRoundOutOfOrder', [task, 0, 0]);
    await mined(commit(task, 1, { checkpoint: h('c1'), parent: genesis }));
    await expectRevert(commit(task, 1, { checkpoint: h('c1b'), parent: h('c1') }), errors, 'RegistryRoundAlreadyCommitted', [task, 1]);
    // Rounds 2 and 3 failed off-chain and were never committed.
    await mined(commit(task, 4, { checkpoint: h('c4'), parent: h('c1') }));
    assert.equal(await registry.lastRound(task), 4n);
    await expectRevert(commit(task, 4, { checkpoint: h('c4b'), parent: h('c4') }), errors, 'RegistryRoundAlreadyCommitted', [task, 4]);
    await expectRevert(commit(task, 3, { checkpoint: h('c3'), parent: h('c4') }), errors, 'RegistryRoundOutOfOrder', [task, 3, 4]);
    await expectRevert(commit(task, 1, { checkpoint: h('c1c'), parent: h('c4') }), errors, 'RegistryRoundOutOfOrder', [task, 1, 4]);
    assert.equal(await registry.latestCheckpoint(task), h('c4'));
  });

  test('the parent must be the latest checkpoint, and a checkpoint cannot be zero', async () => {
    const { task, genesis } = await newTask();
    await expectRevert(commit(task, 1, { checkpoint: h('c1'), parent: h('elsewhere') }), errors, 'RegistryParentMismatch', [task, genesis, h('elsewhere')]);
    await mined(commit(task, 1, { checkpoint: h('c1'), parent: genesis }));
    // Building on the genesis again (a fork of history) is refused.
    await expectRevert(commit(task, 2, { checkpoint: h('c2'), parent: genesis }), errors, 'RegistryParentMismatch', [task, h('c1'), genesis]);
    await expectRevert(commit(task, 2, { checkpoint: ZeroHash, parent: h('c1') }), errors, 'RegistryInvalidCheckpoint', [task]);
  });

  test('an unknown task reverts in commits and views', async () => {
    const unknown = 999_999;
    assert.equal(await registry.taskExists(unknown), false);
    await expectRevert(commit(unknown, 1, { checkpoint: h('c1'), parent: h('g') }), errors, 'RegistryUnknownTask', [unknown]);
    await expectRevert(registry.latestCheckpoint(unknown), errors, 'RegistryUnknownTask', [unknown]);
    await expectRevert(registry.lastRound(unknown), errors, 'RegistryUnknownTask', [unknown]);
  });

  test('a reward needs budget and a rewards root, and a failed allocation leaves the head where it was', async () => {
    const { task, genesis } = await newTask();
    const reward = parseUnits('10', 18);
    await expectRevert(commit(task, 1, { checkpoint: h('c1'), parent: genesis, root: h('r'), reward }), errors, 'DistributorBudgetShort', [task, reward, 0]);
    await mined(chain.d.token.approve(chain.d.addresses.distributor, reward));
    await mined(chain.d.distributor.fund(task, reward));
    await expectRevert(commit(task, 1, { checkpoint: h('c1'), parent: genesis, root: ZeroHash, reward }), errors, 'DistributorMissingRewardsRoot', [task, 1]);
    assert.equal(await registry.lastRound(task), 0n);
    assert.equal(await registry.latestCheckpoint(task), genesis);
    await expectRevert(
      commit(task, 1, { checkpoint: h('c1'), parent: genesis, root: h('r'), reward: reward + 1n }),
      errors,
      'DistributorBudgetShort',
      [task, reward + 1n, reward],
    );
    await mined(commit(task, 1, { checkpoint: h('c1'), parent: genesis, root: h('r'), reward }));
    assert.equal(await chain.d.distributor.budgetOf(task), 0n);
  });

  test('only the registry can allocate rewards', async () => {
    const { task } = await newTask();
    const asDeployer = attach('RewardDistributor', chain.d.addresses.distributor, chain.signers[0]!);
    await expectRevert(asDeployer.allocate(task, 1, h('r'), 0n), errors, 'DistributorUnauthorizedCaller', [chain.addresses[0]]);
  });

  test('commit gas is the same for 5 and 500 contributors and at most 120,000', async () => {
    const reward = parseUnits('1000', 18);
    /** Funds a task and commits round 1, so round 2 starts from the same storage state for every tree size. */
    async function warmTask() {
      const { task, genesis } = await newTask();
      await mined(chain.d.token.approve(chain.d.addresses.distributor, reward * 3n));
      await mined(chain.d.distributor.fund(task, reward * 3n));
      const first = await mined(commit(task, 1, { checkpoint: h(`c1:${task}`), parent: genesis, root: h('r1'), reward }));
      return { task, first };
    }
    const measure = async (contributors: number) => {
      const { task, first } = await warmTask();
      const each = reward / BigInt(contributors);
      const { root } = rewardsTree(fillerAddresses(contributors, `gas:${contributors}`).map((a) => [a, each]));
      const receipt = await mined(commit(task, 2, { checkpoint: h(`c2:${task}`), parent: h(`c1:${task}`), root, reward, uri: 'ipfs://same-length-uri' }));
      const tx = await chain.provider.getTransaction(receipt.hash);
      assert.ok(tx);
      // Hashes differ in how many zero bytes they hold, and calldata charges 4 gas for a zero byte
      // and 16 for any other; everything the contracts do is compared without that.
      const execution = receipt.gasUsed - 21_000n - calldataGas(tx.data);
      return { first: first.gasUsed, gasUsed: receipt.gasUsed, execution };
    };
    const five = await measure(5);
    const fiveHundred = await measure(500);
    console.log(
      `gas: commitRound first round of a task ${five.first}; later round with 5 contributors ${five.gasUsed} (execution ${five.execution}), with 500 contributors ${fiveHundred.gasUsed} (execution ${fiveHundred.execution})`,
    );
    assert.equal(fiveHundred.execution, five.execution);
    const apart = fiveHundred.gasUsed > five.gasUsed ? fiveHundred.gasUsed - five.gasUsed : five.gasUsed - fiveHundred.gasUsed;
    assert.ok(apart <= 12n * 3n * 32n, 'the totals differ at most by the zero bytes of the three hashes that differ');
    for (const g of [five.first, five.gasUsed, fiveHundred.gasUsed]) assert.ok(g <= 120_000n, `commit gas ${g} <= 120,000`);
  });
});
