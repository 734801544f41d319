import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { getAddress, parseUnits, ZeroAddress, ZeroHash, type Interface } from 'ethers';
import { buildCircuits } from '../../circuits/build.ts';
import type { RewardDistributor } from '../../contracts/artifacts.ts';
import { createIdentity, nullifierOf, proveClaim, terminateZk, verifyClaim, type Identity } from '../../protocol/zk/index.ts';
import { calldataGas, expectRevert, h, mined, rewardsTree, startChain, type Chain } from './chain.ts';

// RewardDistributor.claimPrivate on a real anvil with real Groth16 proofs of the claim circuit
// (circuits/src/claim.circom, proved by protocol/zk and checked on chain by the generated
// ClaimVerifier): private rounds commit a StandardMerkleTree of (nullifier, amount) leaves, and a
// member, or anyone it hands the proof to, claims without revealing which address uploaded.

const T = (n: number | string) => parseUnits(String(n), 18);

/** A private rewards tree as the coordinator builds it: StandardMerkleTree of (uint256 nullifier, uint256 amount). */
function privateTree(entries: Array<[bigint, bigint]>) {
  const tree = StandardMerkleTree.of(
    entries.map(([nullifier, amount]) => [nullifier.toString(), amount.toString()]),
    ['uint256', 'uint256'],
  );
  const proofOf = (nullifier: bigint): string[] => {
    for (const [i, [n]] of tree.entries()) if (BigInt(n!) === nullifier) return tree.getProof(i);
    throw new Error(`${nullifier} is not in the tree`);
  };
  return { root: tree.root, proofOf };
}

describe('RewardDistributor private claims', () => {
  let chain: Chain;
  let errors: Interface[];
  let nextTask = 1;
  /** Three members of every private task; the identities are independent of task and round. */
  let members: Identity[];

  before(async () => {
    // The proving artefacts (wasm, zkey) are gitignored: build them when missing or stale.
    await buildCircuits({ quiet: true });
    chain = await startChain();
    errors = [chain.d.distributor.interface, chain.d.registry.interface, chain.d.token.interface];
    members = [createIdentity(), createIdentity(), createIdentity()];
  });
  after(async () => {
    await chain?.stop();
    await terminateZk();
  });

  const distributorAs = (i: number): RewardDistributor => chain.d.distributor.connect(chain.signers[i]!);
  const balance = (account: string) => chain.d.token.balanceOf(account);
  /** Relayer: an account that is neither a member nor a recipient submits the claims. */
  const relayer = () => distributorAs(9);

  /** A registered task with `budget` tokens funded by the deployer; tracks its head for commits. */
  async function fundedTask(budget: bigint) {
    const task = nextTask++;
    let head = h(`genesis:${task}`);
    let round = 0;
    await mined(chain.d.registry.createTask(task, head));
    await mined(chain.d.token.approve(chain.d.addresses.distributor, budget));
    await mined(chain.d.distributor.fund(task, budget));
    /** Commits the next round with this rewards root and reward. */
    const commit = async (root: string, reward: bigint) => {
      round += 1;
      const checkpoint = h(`checkpoint:${task}:${round}`);
      await mined(chain.d.registry.commitRound(task, round, checkpoint, head, h('manifest'), root, ZeroHash, 'fl://r', reward));
      head = checkpoint;
      return round;
    };
    return { task, commit, nextRound: () => round + 1 };
  }

  /** A funded task whose next round is private, paying members[i] amounts[i]; returns its nullifiers too. */
  async function privateRound(amounts: bigint[], reward = amounts.reduce((a, b) => a + b, 0n)) {
    const t = await fundedTask(reward * 2n);
    const round = t.nextRound();
    const nullifiers = amounts.map((_, i) => nullifierOf(members[i]!.secret, t.task, round));
    const tree = privateTree(nullifiers.map((n, i) => [n, amounts[i]!]));
    await t.commit(tree.root, reward);
    return { ...t, round, nullifiers, tree };
  }

  test('a valid proof, submitted by a relayer, pays the recipient and spends the nullifier', async () => {
    const { task, round, nullifiers, tree } = await privateRound([T(50), T(30), T(20)]);
    const recipient = chain.addresses[5]!;
    const { proof, nullifier } = await proveClaim({ secret: members[1]!.secret, task, round, recipient });
    assert.equal(nullifier, nullifiers[1]);
    // The same statement verifies off chain, as the coordinator and auditor check it.
    assert.equal(await verifyClaim({ task, round, nullifier, recipient }, proof), true);

    const [recipientBefore, relayerBefore] = [await balance(recipient), await balance(chain.addresses[9]!)];
    const receipt = await mined(relayer().claimPrivate(task, round, nullifier, T(30), recipient, tree.proofOf(nullifier), proof));

    assert.equal(await balance(recipient), recipientBefore + T(30));
    assert.equal(await balance(chain.addresses[9]!), relayerBefore, 'the relayer is not paid');
    const log = receipt.logs.map((l) => chain.d.distributor.interface.parseLog(l)).find((l) => l?.name === 'PrivateClaimed');
    assert.ok(log, 'PrivateClaimed emitted');
    assert.deepEqual(log.args.toObject(), { task: BigInt(task), round: BigInt(round), nullifier, recipient: getAddress(recipient), amount: T(30) });
    assert.equal(await chain.d.distributor.isNullifierSpent(nullifier), true);
    assert.equal(await chain.d.distributor.isNullifierSpent(nullifiers[0]!), false);
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(30));
  });

  test('a nullifier is paid once, whoever submits and whatever recipient a fresh proof names', async () => {
    const { task, round, tree } = await privateRound([T(7), T(3)]);
    const recipient = chain.addresses[6]!;
    const { proof, nullifier } = await proveClaim({ secret: members[0]!.secret, task, round, recipient });
    await mined(relayer().claimPrivate(task, round, nullifier, T(7), recipient, tree.proofOf(nullifier), proof));

    await expectRevert(relayer().claimPrivate(task, round, nullifier, T(7), recipient, tree.proofOf(nullifier), proof), errors, 'DistributorNullifierSpent', [nullifier]);
    const other = chain.addresses[7]!;
    const again = await proveClaim({ secret: members[0]!.secret, task, round, recipient: other });
    await expectRevert(distributorAs(7).claimPrivate(task, round, nullifier, T(7), other, tree.proofOf(nullifier), again.proof), errors, 'DistributorNullifierSpent', [nullifier]);
    assert.equal(await balance(other), 0n);
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(7));
  });

  test('a proof copied from the mempool cannot be redirected to another recipient', async () => {
    const { task, round, tree } = await privateRound([T(4), T(6)]);
    const [victim, thief] = [chain.addresses[1]!, chain.addresses[8]!];
    const { proof, nullifier } = await proveClaim({ secret: members[1]!.secret, task, round, recipient: victim });

    await expectRevert(
      distributorAs(8).claimPrivate(task, round, nullifier, T(6), thief, tree.proofOf(nullifier), proof),
      errors,
      'DistributorInvalidZkProof',
      [task, round, nullifier],
    );
    // The failed attempt consumed nothing: the intended claim still goes through.
    await mined(relayer().claimPrivate(task, round, nullifier, T(6), victim, tree.proofOf(nullifier), proof));
    assert.equal(await balance(thief), 0n);
  });

  test('a wrong amount, a tampered proof element or another member’s leaf is refused', async () => {
    const { task, round, nullifiers, tree } = await privateRound([T(6), T(4)]);
    const recipient = chain.addresses[4]!;
    const { proof, nullifier } = await proveClaim({ secret: members[0]!.secret, task, round, recipient });
    const claim = (n: bigint, amount: bigint, merkleProof: string[], zkProof: string[]) =>
      relayer().claimPrivate(task, round, n, amount, recipient, merkleProof, zkProof);

    // More or less than the leaf says: the leaf is (nullifier, amount), so the Merkle proof fails.
    await expectRevert(claim(nullifier, T(7), tree.proofOf(nullifier), proof), errors, 'DistributorInvalidMerkleProof', [task, round, nullifier, T(7)]);
    await expectRevert(claim(nullifier, T(5), tree.proofOf(nullifier), proof), errors, 'DistributorInvalidMerkleProof', [task, round, nullifier, T(5)]);
    await expectRevert(claim(nullifier, T(6), [h('tampered')], proof), errors, 'DistributorInvalidMerkleProof', [task, round, nullifier, T(6)]);

    // Each of the eight proof elements changed by one: off the curve or simply wrong, never accepted.
    for (let i = 0; i < 8; i++) {
      const tampered = proof.map((v, j) => (j === i ? (BigInt(v) + 1n).toString() : v));
      await expectRevert(claim(nullifier, T(6), tree.proofOf(nullifier), tampered), errors, 'DistributorInvalidZkProof', [task, round, nullifier]);
    }
    // A coordinate at or above the field modulus, and an all-zero proof.
    const huge = proof.map((v, j) => (j === 0 ? (2n ** 256n - 1n).toString() : v));
    await expectRevert(claim(nullifier, T(6), tree.proofOf(nullifier), huge), errors, 'DistributorInvalidZkProof');
    await expectRevert(claim(nullifier, T(6), tree.proofOf(nullifier), Array<string>(8).fill('0')), errors, 'DistributorInvalidZkProof');

    // Member 1's leaf (which anyone can read off the published tree) with member 0's proof.
    const leaf1 = nullifiers[1]!;
    await expectRevert(claim(leaf1, T(4), tree.proofOf(leaf1), proof), errors, 'DistributorInvalidZkProof', [task, round, leaf1]);

    // None of that spent anything.
    await mined(claim(nullifier, T(6), tree.proofOf(nullifier), proof));
    assert.equal(await balance(recipient), T(6));
    assert.equal(await chain.d.distributor.isNullifierSpent(leaf1), false);
  });

  test('a zero recipient, a zero amount and a round without rewards are refused', async () => {
    const { task, round, nullifiers, tree } = await privateRound([0n, T(1)]);
    const recipient = chain.addresses[3]!;
    const { proof, nullifier } = await proveClaim({ secret: members[0]!.secret, task, round, recipient });
    assert.equal(nullifier, nullifiers[0]);
    await expectRevert(relayer().claimPrivate(task, round, nullifier, 0n, ZeroAddress, tree.proofOf(nullifier), proof), errors, 'DistributorZeroRecipient');
    // A rejected update's leaf pays nothing, and claiming it does not spend the nullifier.
    await expectRevert(relayer().claimPrivate(task, round, nullifier, 0n, recipient, tree.proofOf(nullifier), proof), errors, 'DistributorZeroAmount');
    assert.equal(await chain.d.distributor.isNullifierSpent(nullifier), false);
    await expectRevert(relayer().claimPrivate(task, round + 1, nullifier, T(1), recipient, [], proof), errors, 'DistributorUnknownRound', [task, round + 1]);
  });

  test('no private claim takes a round past its reward, even when the tree promises more', async () => {
    // A faulty tree whose amounts add up to 150 for a reward of 100.
    const { task, round, tree } = await privateRound([T(60), T(60), T(30)], T(100));
    const claimAs = async (i: number, amount: bigint) => {
      const recipient = chain.addresses[i + 1]!;
      const { proof, nullifier } = await proveClaim({ secret: members[i]!.secret, task, round, recipient });
      return relayer().claimPrivate(task, round, nullifier, amount, recipient, tree.proofOf(nullifier), proof);
    };
    await mined(claimAs(0, T(60)));
    await expectRevert(claimAs(1, T(60)), errors, 'DistributorOverClaim', [task, round, T(60), T(40)]);
    await mined(claimAs(2, T(30)));
    assert.equal((await chain.d.distributor.roundRewards(task, round))[2], T(90));
    assert.equal(await chain.d.distributor.budgetOf(task), T(100), 'the rest of the budget is untouched');
  });

  test('a nullifier belongs to its round: replaying a round’s tree in a later round pays nothing twice', async () => {
    const { task, round, commit, tree } = await privateRound([T(2), T(3)]);
    const recipient = chain.addresses[2]!;
    const { proof, nullifier } = await proveClaim({ secret: members[0]!.secret, task, round, recipient });
    // A faulty coordinator commits the same root again for the next round.
    const replayed = await commit(tree.root, T(5));
    // The round-1 proof names round 1 as a public signal, so it does not verify for the replay...
    await expectRevert(relayer().claimPrivate(task, replayed, nullifier, T(2), recipient, tree.proofOf(nullifier), proof), errors, 'DistributorInvalidZkProof', [task, replayed, nullifier]);
    // ...and a proof made for the replayed round derives that round's nullifier, which is not a leaf.
    const fresh = await proveClaim({ secret: members[0]!.secret, task, round: replayed, recipient });
    assert.notEqual(fresh.nullifier, nullifier);
    await expectRevert(relayer().claimPrivate(task, replayed, fresh.nullifier, T(2), recipient, [], fresh.proof), errors, 'DistributorInvalidMerkleProof');
    // Once the original claim is paid, the replay meets a spent nullifier first.
    await mined(relayer().claimPrivate(task, round, nullifier, T(2), recipient, tree.proofOf(nullifier), proof));
    await expectRevert(relayer().claimPrivate(task, replayed, nullifier, T(2), recipient, tree.proofOf(nullifier), proof), errors, 'DistributorNullifierSpent', [nullifier]);
  });

  test('a public round cannot be claimed privately, nor a private one publicly', async () => {
    const t = await fundedTask(T(20));
    const account = chain.addresses[1]!;
    const publicTree = rewardsTree([
      [account, T(5)],
      [chain.addresses[2]!, T(5)],
    ]);
    const publicRound = await t.commit(publicTree.root, T(10));
    const recipient = chain.addresses[3]!;
    const member = await proveClaim({ secret: members[0]!.secret, task: t.task, round: publicRound, recipient });

    // A public leaf hashes three words (index, account, amount) and a private one two, so the public
    // leaf read as the nullifier uint256(account) is no leaf of the tree: refused before the verifier.
    const asNullifier = BigInt(account);
    await expectRevert(
      relayer().claimPrivate(t.task, publicRound, asNullifier, T(5), recipient, publicTree.proofOf(account), member.proof),
      errors,
      'DistributorInvalidMerkleProof',
      [t.task, publicRound, asNullifier, T(5)],
    );
    // With the member's real nullifier, there is no such leaf in a public tree.
    await expectRevert(
      relayer().claimPrivate(t.task, publicRound, member.nullifier, T(5), recipient, publicTree.proofOf(account), member.proof),
      errors,
      'DistributorInvalidMerkleProof',
    );

    // The other way round: a private leaf is keyed by a nullifier, which no account's address equals.
    const privateRoundNo = t.nextRound();
    const nullifier = nullifierOf(members[0]!.secret, t.task, privateRoundNo);
    const tree = privateTree([
      [nullifier, T(5)],
      [nullifierOf(members[1]!.secret, t.task, privateRoundNo), T(5)],
    ]);
    await t.commit(tree.root, T(10));
    await expectRevert(distributorAs(1).claim(t.task, privateRoundNo, 0, T(5), tree.proofOf(nullifier)), errors, 'DistributorInvalidProof', [t.task, privateRoundNo, 0, account, T(5)]);

    // The public leaf is still claimable the public way, by its account.
    await mined(distributorAs(1).claim(t.task, publicRound, publicTree.indexOf(account), T(5), publicTree.proofOf(account)));
  });

  test('claimPrivate gas from a 500-leaf tree is printed', async () => {
    const each = T(2);
    const t = await fundedTask(each * 1000n);
    const round = t.nextRound();
    // Fresh recipients (a recipient needs no key, only an address): one that will hold tokens before its claim, one that will not.
    const [cold, warm] = [`0x${h('private-gas:cold').slice(26)}`, `0x${h('private-gas:warm').slice(26)}`];
    const mine = [nullifierOf(members[0]!.secret, t.task, round), nullifierOf(members[1]!.secret, t.task, round)];
    // Filler nullifiers: reproducible values below the field modulus, like real Poseidon outputs.
    const entries: Array<[bigint, bigint]> = Array.from({ length: 498 }, (_, i) => [BigInt(h(`claim-private-gas:${i}`)) >> 8n, each]);
    entries.splice(137, 0, [mine[0]!, each]);
    entries.splice(401, 0, [mine[1]!, each]);
    const tree = privateTree(entries);
    await t.commit(tree.root, each * 500n);
    await mined(chain.d.token.transfer(warm, T(1)));
    assert.equal(await balance(cold), 0n);

    /** Gas of a private claim (total and without calldata, whose zero bytes differ per proof). */
    const claimGas = async (member: number, recipient: string) => {
      const { proof, nullifier } = await proveClaim({ secret: members[member]!.secret, task: t.task, round, recipient });
      const receipt = await mined(relayer().claimPrivate(t.task, round, nullifier, each, recipient, tree.proofOf(nullifier), proof));
      const tx = await chain.provider.getTransaction(receipt.hash);
      return { total: receipt.gasUsed, execution: receipt.gasUsed - calldataGas(tx!.data), depth: tree.proofOf(nullifier).length };
    };
    const zero = await claimGas(0, cold);
    const nonZero = await claimGas(1, warm);
    console.log(
      `gas: claimPrivate (500-leaf tree, ${nonZero.depth}-hash proof, Groth16 with 4 public signals, relayed): ` +
        `recipient balance zero ${zero.total}, non-zero ${nonZero.total} (execution excluding calldata ${nonZero.execution})`,
    );
    // The pairing check alone costs 181,000 (EIP-1108: 45,000 + 4 pairs x 34,000); the rest is the
    // verifier's four scalar multiplications, the Merkle proof and the same accounting as claim().
    assert.ok(nonZero.total <= 300_000n, `claimPrivate gas ${nonZero.total} <= 300,000`);
  });
});
