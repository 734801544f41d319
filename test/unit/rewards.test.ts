import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AbiCoder, concat, keccak256 } from 'ethers';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { Prng } from '../../protocol/prng.ts';
import {
  acceptedSamples,
  DEFAULT_SCORE_RULE,
  effectiveReward,
  EMPTY_REWARDS_ROOT,
  REWARD_LEAF_ENCODING,
  rewardLeafHash,
  rewardsTree,
  SCORE_RULES,
  scoreEntries,
  scoreRule,
  splitProRata,
  UINT256_MAX,
  verifyRewardProof,
  type RewardEntry,
} from '../../protocol/rewards.ts';
import { throwsProtocol } from '../helpers/assert-protocol.ts';


const sum = (xs: readonly bigint[]) => xs.reduce((a, b) => a + b, 0n);
const addr = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

describe('splitProRata: hand-computed examples', () => {
  test('100 over [1, 1, 1] gives [34, 33, 33]: the one leftover unit goes to the lowest index', () => {
    assert.deepEqual(splitProRata(100n, [1n, 1n, 1n]), [34n, 33n, 33n]);
  });

  test('exact shares are kept as they are: 10 over [5, 3, 2] gives [5, 3, 2]', () => {
    assert.deepEqual(splitProRata(10n, [5n, 3n, 2n]), [5n, 3n, 2n]);
    assert.deepEqual(splitProRata(7n, [2n, 2n, 3n]), [2n, 2n, 3n]);
  });

  test('leftover units go to the largest remainders, not to the lowest indices', () => {
    // 100 over [1, 2, 3]: floors [16, 33, 50] (99), remainders [4, 2, 0] of 6: index 0 gets the unit.
    assert.deepEqual(splitProRata(100n, [1n, 2n, 3n]), [17n, 33n, 50n]);
    // 5 over [1, 3]: floors [1, 3], remainders [1, 3] of 4: index 1 gets the unit.
    assert.deepEqual(splitProRata(5n, [1n, 3n]), [1n, 4n]);
    // 10 over [1, 1, 1]: floors 3 each, equal remainders: indices 0 then 1... only one unit left.
    assert.deepEqual(splitProRata(10n, [1n, 1n, 1n]), [4n, 3n, 3n]);
    assert.deepEqual(splitProRata(2n, [1n, 1n, 1n]), [1n, 1n, 0n]);
  });

  test('zero scores never receive a unit, even when they come first', () => {
    assert.deepEqual(splitProRata(1n, [0n, 3n, 3n]), [0n, 1n, 0n]);
    assert.deepEqual(splitProRata(5n, [0n, 0n, 1n, 0n]), [0n, 0n, 5n, 0n]);
  });

  test('all-zero or no scores allocate nothing; the effective reward is then 0', () => {
    assert.deepEqual(splitProRata(1000n, [0n, 0n, 0n]), [0n, 0n, 0n]);
    assert.deepEqual(splitProRata(1000n, []), []);
    assert.equal(effectiveReward(1000n, [0n, 0n]), 0n);
    assert.equal(effectiveReward(1000n, []), 0n);
    assert.equal(effectiveReward(1000n, [0n, 1n]), 1000n);
    assert.deepEqual(splitProRata(0n, [1n, 2n]), [0n, 0n]);
    assert.equal(effectiveReward(0n, [1n, 2n]), 0n);
  });

  test('big numbers near 2^200 are exact', () => {
    const t = 2n ** 200n;
    // reward 2^200 over three equal scores: 2^200 = 3q + 1, so [q + 1, q, q].
    const q = (t - 1n) / 3n;
    assert.equal(3n * q + 1n, t);
    assert.deepEqual(splitProRata(t, [1n, 1n, 1n]), [q + 1n, q, q]);
    // reward 2^200 - 1 over [2^199, 2^199 - 1, 1] (total 2^200):
    //   floors [2^199 - 1, 2^199 - 2, 0] (leftover 2), remainders [2^199, 2^199 + 1, 2^200 - 1]:
    //   the units go to index 2 and index 1.
    const h = 2n ** 199n;
    assert.deepEqual(splitProRata(t - 1n, [h, h - 1n, 1n]), [h - 1n, h - 1n, 1n]);
    // Scores near 2^200 with a small reward: 10 over [2^200, 2^200, 2^201] gives [3, 2, 5].
    assert.deepEqual(splitProRata(10n, [t, t, 2n * t]), [3n, 2n, 5n]);
    // A reward at the uint256 limit still sums exactly.
    const amounts = splitProRata(UINT256_MAX, [t + 1n, 3n, t - 7n, 1n]);
    assert.equal(sum(amounts), UINT256_MAX);
  });

  test('negative rewards and scores are refused', () => {
    throwsProtocol(() => splitProRata(-1n, [1n]), 'BAD_REWARD');
    throwsProtocol(() => splitProRata(10n, [1n, -1n, 5n]), 'BAD_SCORE', /score 1/);
    throwsProtocol(() => effectiveReward(-5n, [1n]), 'BAD_REWARD');
    // A bigint-typed API: plain numbers are refused, not silently converted.
    throwsProtocol(() => splitProRata(10 as unknown as bigint, [1n]), 'BAD_REWARD');
    throwsProtocol(() => splitProRata(10n, [1 as unknown as bigint]), 'BAD_SCORE');
  });

  test('does not modify the scores it is given', () => {
    const scores = [3n, 1n, 2n];
    splitProRata(100n, scores);
    assert.deepEqual(scores, [3n, 1n, 2n]);
  });
});

/** A random bigint of up to `bits` bits, skewed so that 0, tiny values and huge values all occur. */
function randomBig(rng: Prng, maxBits: number): bigint {
  const r = rng.next();
  if (r < 0.15) return 0n;
  if (r < 0.4) return BigInt(Math.floor(rng.next() * 10));
  const bits = 1 + Math.floor(rng.next() * maxBits);
  let x = 0n;
  for (let b = 0; b < bits; b += 32) x = (x << 32n) | BigInt(Math.floor(rng.next() * 2 ** 32));
  return x & ((1n << BigInt(bits)) - 1n);
}

describe('splitProRata: properties over 2,000 seeded random cases', () => {
  const CASES = 2000;
  const cases = Array.from({ length: CASES }, (_, seed) => {
    const rng = new Prng(seed + 1);
    const n = Math.floor(rng.next() * 24); // 0..23 scores
    const scoreBits = rng.next() < 0.5 ? 16 : 200;
    const scores = Array.from({ length: n }, () => randomBig(rng, scoreBits));
    // Equal scores on purpose, so that ties are exercised.
    if (n > 2 && rng.next() < 0.3) scores[n - 1] = scores[0] as bigint;
    const reward = randomBig(rng, rng.next() < 0.5 ? 20 : 256) % (UINT256_MAX + 1n);
    return { seed, scores, reward, amounts: splitProRata(reward, scores) };
  });

  test('the amounts sum exactly to the effective reward (the reward unless every score is 0)', () => {
    for (const { seed, scores, reward, amounts } of cases) {
      assert.equal(amounts.length, scores.length, `seed ${seed}`);
      const eff = effectiveReward(reward, scores);
      assert.equal(sum(amounts), eff, `seed ${seed}`);
      assert.equal(eff, sum(scores) > 0n ? reward : 0n, `seed ${seed}`);
      for (const a of amounts) assert.ok(a >= 0n, `seed ${seed}: negative amount`);
    }
  });

  test('every amount is within 1 unit of its exact share (floor or floor + 1), and score 0 gets 0', () => {
    for (const { seed, scores, reward, amounts } of cases) {
      const total = sum(scores);
      if (total === 0n) {
        assert.ok(amounts.every((a) => a === 0n), `seed ${seed}`);
        continue;
      }
      scores.forEach((s, i) => {
        const floor = (reward * s) / total;
        const a = amounts[i] as bigint;
        assert.ok(a === floor || a === floor + 1n, `seed ${seed} index ${i}: ${a} vs floor ${floor}`);
        // |a - reward * s / total| < 1, in integers.
        const diff = a * total - reward * s;
        assert.ok(diff < total && -diff < total, `seed ${seed} index ${i}`);
        if (s === 0n) assert.equal(a, 0n, `seed ${seed} index ${i}`);
      });
    }
  });

  test('monotone: a larger score never gets less, and equal scores differ by at most 1 (the lower index first)', () => {
    for (const { seed, scores, amounts } of cases) {
      for (let i = 0; i < scores.length; i++) {
        for (let j = 0; j < scores.length; j++) {
          const si = scores[i] as bigint;
          const sj = scores[j] as bigint;
          const ai = amounts[i] as bigint;
          const aj = amounts[j] as bigint;
          if (si > sj) assert.ok(ai >= aj, `seed ${seed}: score ${si} got ${ai} < ${aj} of score ${sj}`);
          if (si === sj && i < j) assert.ok(ai === aj || ai === aj + 1n, `seed ${seed}: equal scores ${i}, ${j} got ${ai}, ${aj}`);
        }
      }
    }
  });

  test('Hamilton exactly: the +1 units went to the largest remainders, ties to the lower index', () => {
    for (const { seed, scores, reward, amounts } of cases) {
      const total = sum(scores);
      if (total === 0n) continue;
      const rem = scores.map((s) => (reward * s) % total);
      const got = scores.map((s, i) => (amounts[i] as bigint) - (reward * s) / total === 1n);
      for (let i = 0; i < scores.length; i++) {
        for (let j = 0; j < scores.length; j++) {
          if (!got[i] || got[j]) continue;
          const ri = rem[i] as bigint;
          const rj = rem[j] as bigint;
          assert.ok(ri > rj || (ri === rj && i < j), `seed ${seed}: index ${i} got a unit over index ${j}`);
        }
      }
    }
  });

  test('deterministic: the same input always gives the same output', () => {
    for (const { seed, scores, reward, amounts } of cases.slice(0, 300)) {
      assert.deepEqual(splitProRata(reward, [...scores]), amounts, `seed ${seed}`);
    }
  });

  test('the split follows its entries: permuting scores with distinct values permutes the amounts', () => {
    for (const { seed, scores, reward, amounts } of cases.slice(0, 500)) {
      if (new Set(scores.map(String)).size !== scores.length) continue; // ties depend on order by design
      const perm = new Prng(seed).shuffle(scores.map((_, i) => i));
      const permuted = splitProRata(reward, perm.map((i) => scores[i] as bigint));
      assert.deepEqual(permuted, perm.map((i) => amounts[i] as bigint), `seed ${seed}`);
    }
  });
});

describe('score rules', () => {
  const A = addr(1);
  test('accepted-samples: numSamples for accepted updates, 0 for rejected ones', () => {
    assert.equal(acceptedSamples({ status: 'accepted', client: A, updateHash: null, numSamples: 1234 }), 1234n);
    assert.equal(acceptedSamples({ status: 'rejected', client: A, updateHash: null, numSamples: 1234 }), 0n);
    assert.equal(acceptedSamples({ status: 'accepted', client: A, updateHash: null, numSamples: Number.MAX_SAFE_INTEGER }), BigInt(Number.MAX_SAFE_INTEGER));
  });

  test('the registry names the default rule and is frozen', () => {
    assert.equal(DEFAULT_SCORE_RULE, 'accepted-samples');
    assert.equal(scoreRule('accepted-samples'), acceptedSamples);
    assert.equal(SCORE_RULES['accepted-samples'], acceptedSamples);
    assert.ok(Object.isFrozen(SCORE_RULES));
    throwsProtocol(() => scoreRule('no-such-rule'), 'UNKNOWN_SCORE_RULE', /no-such-rule/);
    // Inherited object properties are not rules.
    throwsProtocol(() => scoreRule('toString'), 'UNKNOWN_SCORE_RULE');
    throwsProtocol(() => scoreRule('__proto__'), 'UNKNOWN_SCORE_RULE');
  });

  test('scoreEntries checks what a rule returns', () => {
    const e = { status: 'accepted' as const, client: A, updateHash: null, numSamples: 5 };
    assert.deepEqual(scoreEntries(acceptedSamples, [e, { ...e, status: 'rejected' }]), [5n, 0n]);
    throwsProtocol(() => scoreEntries(() => -1n, [e]), 'BAD_SCORE');
    throwsProtocol(() => scoreEntries(() => UINT256_MAX + 1n, [e]), 'BAD_SCORE');
    throwsProtocol(() => scoreEntries(() => 5 as unknown as bigint, [e]), 'BAD_SCORE');
  });
});

/** The Solidity leaf, computed without the merkle-tree library: keccak256(bytes.concat(keccak256(abi.encode(i, a, n)))). */
function solidityLeaf(index: number, account: string, amount: bigint): string {
  return keccak256(concat([keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'address', 'uint256'], [index, account, amount]))]));
}

/** MerkleProof.processProof: fold the siblings with keccak256 of the sorted pair. */
function solidityProcessProof(leaf: string, proof: readonly string[]): string {
  let h = leaf.toLowerCase();
  for (const sib of proof) {
    const s = sib.toLowerCase();
    h = keccak256(h < s ? concat([h, s]) : concat([s, h]));
  }
  return h;
}

describe('rewardsTree', () => {
  const entries: RewardEntry[] = [
    { account: addr(0xa1), amount: 5_000_000_000_000_000_000n },
    { account: addr(0xb2), amount: 1n },
    { account: addr(0xc3), amount: 0n }, // no leaf
    { account: '0x' + 'D4'.repeat(20), amount: 2n ** 200n + 17n }, // upper-case input is fine
    { account: addr(0xe5), amount: UINT256_MAX },
    { account: addr(0xf6), amount: 123_456_789n },
  ];

  test('every claim verifies with StandardMerkleTree.verify and with an independent Solidity-style check', () => {
    const tree = rewardsTree(entries);
    assert.match(tree.root, /^0x[0-9a-f]{64}$/);
    assert.equal(tree.size, 5);
    let paid = 0;
    for (const e of entries) {
      const claim = tree.proofFor(e.account);
      if (e.amount === 0n) {
        assert.equal(claim, null);
        continue;
      }
      assert.ok(claim);
      assert.equal(claim.amount, e.amount);
      // Indices count the paid entries in order (the zero entry takes none).
      assert.equal(claim.index, paid++);
      const account = e.account.toLowerCase();
      assert.ok(StandardMerkleTree.verify(tree.root, ['uint256', 'address', 'uint256'], [claim.index, account, claim.amount], claim.proof));
      assert.ok(verifyRewardProof(tree.root, claim.index, e.account, claim.amount, claim.proof));
      // The leaf Solidity computes, by ethers alone, and the root MerkleProof.verify reaches from it.
      const leaf = solidityLeaf(claim.index, account, e.amount);
      assert.equal(rewardLeafHash(claim.index, e.account, e.amount), leaf);
      assert.equal(solidityProcessProof(leaf, claim.proof), tree.root);
      // Any other amount, index, account or root fails.
      assert.equal(verifyRewardProof(tree.root, claim.index, e.account, claim.amount + 1n, claim.proof), false);
      assert.equal(verifyRewardProof(tree.root, claim.index + 1, e.account, claim.amount, claim.proof), false);
      assert.equal(verifyRewardProof(tree.root, -1, e.account, claim.amount, claim.proof), false);
      assert.equal(verifyRewardProof(tree.root, claim.index, addr(0x99), claim.amount, claim.proof), false);
      assert.equal(verifyRewardProof(EMPTY_REWARDS_ROOT, claim.index, e.account, claim.amount, claim.proof), false);
    }
    assert.equal(tree.proofFor(addr(0x99)), null);
  });

  test('the root depends on the claims and their order (which sets the indices); zero amounts change nothing', () => {
    const root = rewardsTree(entries).root;
    assert.equal(rewardsTree(entries.map((e) => ({ ...e }))).root, root);
    // The same pairs in another order give other indices, so another root.
    for (let seed = 1; seed <= 5; seed++) {
      const shuffled = new Prng(seed).shuffle([...entries]);
      const sameOrder = shuffled.filter((e) => e.amount !== 0n).every((e, i) => e === entries.filter((x) => x.amount !== 0n)[i]);
      if (!sameOrder) assert.notEqual(rewardsTree(shuffled).root, root);
    }
    assert.equal(rewardsTree(entries.filter((e) => e.amount !== 0n)).root, root);
    assert.notEqual(rewardsTree(entries.map((e, i) => (i === 1 ? { ...e, amount: 2n } : e))).root, root);
  });

  test('one leaf: the root is the Solidity leaf and the proof is empty', () => {
    const tree = rewardsTree([{ account: addr(7), amount: 42n }]);
    assert.equal(tree.root, solidityLeaf(0, addr(7), 42n));
    assert.deepEqual(tree.proofFor(addr(7)), { index: 0, amount: 42n, proof: [] });
  });

  test('no leaves: root is bytes32 zero and nothing can be claimed', () => {
    for (const t of [rewardsTree([]), rewardsTree([{ account: addr(1), amount: 0n }, { account: addr(2), amount: 0n }])]) {
      assert.equal(t.root, EMPTY_REWARDS_ROOT);
      assert.equal(EMPTY_REWARDS_ROOT, '0x' + '0'.repeat(64));
      assert.equal(t.size, 0);
      assert.equal(t.proofFor(addr(1)), null);
      assert.deepEqual(t.dump(), { format: 'standard-v1', leafEncoding: ['uint256', 'address', 'uint256'], tree: [], values: [] });
      assert.equal(verifyRewardProof(t.root, 0, addr(1), 0n, []), false);
    }
  });

  test('the dump is JSON-safe and loads back into the same tree', () => {
    const tree = rewardsTree(entries);
    const json = JSON.stringify(tree.dump());
    const loaded = StandardMerkleTree.load<[string, string, string]>(JSON.parse(json));
    assert.equal(loaded.root, tree.root);
    assert.deepEqual(JSON.parse(json).leafEncoding, [...REWARD_LEAF_ENCODING]);
    for (const [i, v] of loaded.entries()) {
      assert.deepEqual(loaded.getProof(i), tree.proofFor(v[1])?.proof);
      assert.equal(Number(v[0]), tree.proofFor(v[1])?.index);
      assert.equal(BigInt(v[2]), tree.proofFor(v[1])?.amount);
    }
  });

  test('refuses the same account twice (in any case, even at amount 0), bad addresses and out-of-range amounts', () => {
    throwsProtocol(() => rewardsTree([{ account: addr(1), amount: 1n }, { account: addr(1), amount: 2n }]), 'DUPLICATE_ACCOUNT');
    throwsProtocol(() => rewardsTree([{ account: addr(1), amount: 0n }, { account: addr(1), amount: 2n }]), 'DUPLICATE_ACCOUNT');
    throwsProtocol(() => rewardsTree([{ account: '0x' + 'ab'.repeat(20), amount: 1n }, { account: '0x' + 'AB'.repeat(20), amount: 1n }]), 'DUPLICATE_ACCOUNT');
    throwsProtocol(() => rewardsTree([{ account: '0x1234', amount: 1n }]), 'BAD_ACCOUNT');
    throwsProtocol(() => rewardsTree([{ account: 'unknown', amount: 1n }]), 'BAD_ACCOUNT');
    throwsProtocol(() => rewardsTree([{ account: addr(1), amount: -1n }]), 'BAD_REWARD');
    throwsProtocol(() => rewardsTree([{ account: addr(1), amount: UINT256_MAX + 1n }]), 'BAD_REWARD');
    throwsProtocol(() => rewardsTree([{ account: addr(1), amount: 5 as unknown as bigint }]), 'BAD_REWARD');
    throwsProtocol(() => rewardsTree([{ account: addr(1), amount: 1n }]).proofFor('nope'), 'BAD_ACCOUNT');
  });

  test('a random split verifies end to end: 200 accounts, every proof reaches the root', () => {
    const rng = new Prng(2024);
    const scores = Array.from({ length: 200 }, () => BigInt(Math.floor(rng.next() * 5000)));
    const reward = 10n ** 24n + 7n;
    const amounts = splitProRata(reward, scores);
    const tree = rewardsTree(amounts.map((amount, i) => ({ account: addr(i + 1), amount })));
    let claimed = 0n;
    amounts.forEach((amount, i) => {
      const claim = tree.proofFor(addr(i + 1));
      if (amount === 0n) return assert.equal(claim, null);
      assert.ok(claim);
      assert.equal(solidityProcessProof(solidityLeaf(claim.index, addr(i + 1), amount), claim.proof), tree.root);
      claimed += claim.amount;
    });
    assert.equal(claimed, reward);
  });
});
