import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256 } from 'ethers';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { contentHash } from '../../protocol/hash.ts';
import { Prng } from '../../protocol/prng.ts';
import type { AcceptedUpdate, Rejection } from '../../protocol/schemas.ts';
import {
  buildManifest,
  decodeManifest,
  encodeManifest,
  manifestHash,
  manifestRewardsTree,
  verifyManifest,
  type ManifestInput,
  type RoundManifest,
} from '../../protocol/manifest.ts';
import { EMPTY_REWARDS_ROOT, rewardsTree, UINT256_MAX, verifyRewardProof, type ScoreRule } from '../../protocol/rewards.ts';
import { throwsProtocol } from '../helpers/assert-protocol.ts';


const rep = (c: string, n: number) => `0x${c.repeat(n)}`;
const A1 = rep('11', 20);
const A2 = rep('22', 20);
const A3 = rep('33', 20);
const A4 = rep('44', 20);
const H = (c: string) => rep(c, 64);

/** Accepted and rejected records exactly as the round repository holds them (extra fields included). */
const ACCEPTED: AcceptedUpdate[] = [
  { jobId: '7', client: A3 as `0x${string}`, updateHash: H('c') as `0x${string}`, numSamples: 50, norm: 1.5, at: '2025-01-01T00:00:03Z' },
  { jobId: '3', client: A1 as `0x${string}`, updateHash: H('a') as `0x${string}`, numSamples: 30, norm: 0.5, at: '2025-01-01T00:00:01Z' },
  { jobId: '5', client: A2 as `0x${string}`, updateHash: H('b') as `0x${string}`, numSamples: 20, norm: 2.5, at: '2025-01-01T00:00:02Z' },
];
const REJECTED: Rejection[] = [
  { jobId: '9', client: A4, updateHash: H('d'), code: 'ROUND_CLOSED', reason: 'round 2 is closing', at: '2025-01-01T00:00:09Z' },
  { jobId: '8', client: 'unknown', updateHash: 'unknown', code: 'BAD_PAYLOAD', reason: 'client: Required', at: '2025-01-01T00:00:08Z' },
  { jobId: '6', client: A1, updateHash: H('e'), code: 'DUPLICATE', reason: `${A1} already has an accepted update in round 2`, at: '2025-01-01T00:00:06Z' },
  { jobId: '4', client: A4, updateHash: H('d'), code: 'HASH_MISMATCH', reason: 'delta hashes to 0x00, the signed hash is 0xdd', at: '2025-01-01T00:00:04Z' },
];

const INPUT: ManifestInput = {
  task: 1,
  round: 2,
  baseHash: H('5'),
  checkpointHash: H('f'),
  strategy: { name: 'fedadam' },
  reward: 1001n,
  accepted: ACCEPTED,
  rejected: REJECTED,
};

/**
 * The manifest of INPUT, pinned: if this hash moves, every manifest committed so far stops
 * verifying. Change it only together with MANIFEST_FORMAT.
 */
const GOLDEN_HASH = '0x94289a400e5bac0eb6c738e676089350068a8c7480819d94dc0e2515f38e35d9';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytesOf = (v: unknown) => new TextEncoder().encode(canonicalJson(v));

describe('buildManifest', () => {
  const m = buildManifest(INPUT);

  test('orders entries: accepted by client, then rejected by client (null first), updateHash, code', () => {
    assert.deepEqual(
      m.entries.map((e) => [e.status, e.client, e.reason?.code ?? null]),
      [
        ['accepted', A1, null],
        ['accepted', A2, null],
        ['accepted', A3, null],
        ['rejected', null, 'BAD_PAYLOAD'],
        ['rejected', A1, 'DUPLICATE'],
        ['rejected', A4, 'HASH_MISMATCH'],
        ['rejected', A4, 'ROUND_CLOSED'],
      ],
    );
    const unknown = m.entries[3];
    assert.equal(unknown?.updateHash, null);
    assert.deepEqual(unknown?.reason, { code: 'BAD_PAYLOAD', text: 'client: Required' });
  });

  test('scores accepted samples and splits 1001 pro rata: [300, 200, 501], rejected entries get 0', () => {
    // Scores 30, 20, 50 of 100; exact shares 300.3, 200.2, 500.5: the leftover unit goes to A3.
    assert.deepEqual(
      m.entries.map((e) => [e.numSamples, e.score, e.reward]),
      [
        [30, '30', '300'],
        [20, '20', '200'],
        [50, '50', '501'],
        [0, '0', '0'],
        [0, '0', '0'],
        [0, '0', '0'],
        [0, '0', '0'],
      ],
    );
    assert.equal(m.reward, '1001');
    assert.equal(m.allocated, '1001');
    assert.deepEqual(m.scoring, { rule: 'accepted-samples' });
    assert.equal(m.format, 2);
  });

  test('spells out the strategy with its defaults', () => {
    assert.deepEqual(m.strategy, { name: 'fedadam', serverLr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
  });

  test('rewardsRoot is the rewards tree of the paid clients, and every claim verifies', () => {
    // Leaf indices follow the entries (A1, A2, A3): the same amounts indexed another way are another tree.
    const expected = rewardsTree([
      { account: A1, amount: 300n },
      { account: A2, amount: 200n },
      { account: A3, amount: 501n },
    ]);
    assert.equal(m.rewardsRoot, expected.root);
    const reindexed = rewardsTree([
      { account: A3, amount: 501n },
      { account: A1, amount: 300n },
      { account: A2, amount: 200n },
    ]);
    assert.notEqual(m.rewardsRoot, reindexed.root);
    const tree = manifestRewardsTree(m);
    assert.equal(tree.root, m.rewardsRoot);
    assert.equal(tree.size, 3);
    for (const [index, [account, amount]] of ([[A1, 300n], [A2, 200n], [A3, 501n]] as const).entries()) {
      const claim = tree.proofFor(account);
      assert.deepEqual(claim?.amount, amount);
      assert.equal(claim?.index, index);
      assert.ok(claim && StandardMerkleTree.verify(m.rewardsRoot, ['uint256', 'address', 'uint256'], [index, account, amount], claim.proof));
      assert.ok(claim && verifyRewardProof(m.rewardsRoot, claim.index, account, amount, claim.proof));
    }
    assert.equal(tree.proofFor(A4), null);
  });

  test('is consistent by its own audit', () => {
    assert.deepEqual(verifyManifest(m), []);
  });

  test('reordering the inputs or changing address case gives the same bytes', () => {
    const bytes = encodeManifest(m);
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Prng(seed);
      const upper = (s: string) => (rng.next() < 0.5 ? `0x${s.slice(2).toUpperCase()}` : s);
      const again = buildManifest({
        ...INPUT,
        accepted: rng.shuffle(ACCEPTED.map((a) => ({ ...a, client: upper(a.client) as `0x${string}`, updateHash: upper(a.updateHash) as `0x${string}` }))),
        rejected: rng.shuffle(REJECTED.map((r) => ({ ...r, client: upper(r.client), updateHash: upper(r.updateHash), jobId: String(rng.next()) }))),
      });
      assert.deepEqual(encodeManifest(again), bytes, `seed ${seed}`);
    }
  });

  test('a round where nothing scores allocates nothing: allocated 0, empty root', () => {
    for (const input of [{ ...INPUT, accepted: [] }, { ...INPUT, accepted: [], rejected: [] }]) {
      const z = buildManifest(input);
      assert.equal(z.reward, '1001');
      assert.equal(z.allocated, '0');
      assert.equal(z.rewardsRoot, EMPTY_REWARDS_ROOT);
      assert.ok(z.entries.every((e) => e.reward === '0'));
      assert.deepEqual(verifyManifest(z), []);
      assert.deepEqual(decodeManifest(encodeManifest(z)), z);
    }
    // Accepted updates with 0 samples score 0 too.
    const zero = buildManifest({ ...INPUT, accepted: [{ client: A1, updateHash: H('a'), numSamples: 0 }], rejected: [] });
    assert.equal(zero.allocated, '0');
    assert.equal(zero.rewardsRoot, EMPTY_REWARDS_ROOT);
  });

  test('a zero reward is allowed and pays nobody', () => {
    const z = buildManifest({ ...INPUT, reward: 0n });
    assert.equal(z.allocated, '0');
    assert.equal(z.rewardsRoot, EMPTY_REWARDS_ROOT);
    assert.deepEqual(verifyManifest(z), []);
  });

  test('rewards near 2^256 stay exact through the JSON', () => {
    const big = buildManifest({ ...INPUT, reward: UINT256_MAX });
    const back = decodeManifest(encodeManifest(big));
    assert.equal(BigInt(back.reward), UINT256_MAX);
    assert.equal(back.entries.reduce((a, e) => a + BigInt(e.reward), 0n), UINT256_MAX);
    assert.deepEqual(verifyManifest(back), []);
  });

  test('refuses malformed input', () => {
    throwsProtocol(() => buildManifest({ ...INPUT, accepted: [...ACCEPTED, { client: A1.toUpperCase().replace('0X', '0x'), updateHash: H('9'), numSamples: 1 }] }), 'BAD_MANIFEST', /two accepted/);
    throwsProtocol(() => buildManifest({ ...INPUT, accepted: [{ client: 'unknown', updateHash: H('a'), numSamples: 1 }] }), 'BAD_MANIFEST', /not an address/);
    throwsProtocol(() => buildManifest({ ...INPUT, accepted: [{ client: A1, updateHash: '0x12', numSamples: 1 }] }), 'BAD_MANIFEST', /32-byte/);
    throwsProtocol(() => buildManifest({ ...INPUT, accepted: [{ client: A1, updateHash: H('a'), numSamples: -1 }] }), 'BAD_MANIFEST', /numSamples/);
    throwsProtocol(() => buildManifest({ ...INPUT, accepted: [{ client: A1, updateHash: H('a'), numSamples: 1.5 }] }), 'BAD_MANIFEST', /numSamples/);
    throwsProtocol(() => buildManifest({ ...INPUT, reward: -1n }), 'BAD_REWARD');
    throwsProtocol(() => buildManifest({ ...INPUT, reward: UINT256_MAX + 1n }), 'BAD_REWARD');
    throwsProtocol(() => buildManifest({ ...INPUT, scoringRule: 'most-samples-wins' }), 'UNKNOWN_SCORE_RULE');
    throwsProtocol(() => buildManifest({ ...INPUT, baseHash: 'nope' }), 'BAD_MANIFEST', /baseHash/);
    throwsProtocol(() => buildManifest({ ...INPUT, task: 0 }), 'BAD_MANIFEST', /task/);
    throwsProtocol(() => buildManifest({ ...INPUT, strategy: { name: 'magic' } as never }), 'BAD_MANIFEST', /strategy/);
  });
});

describe('pluggable score rules', () => {
  // One unit per accepted update, and half a vote for a rejected one from a named client.
  const flat: ScoreRule = (e) => (e.status === 'accepted' ? 2n : e.client ? 1n : 0n);
  const rules = { flat };

  test('the manifest names the rule; the auditor needs that rule to re-check it', () => {
    const m = buildManifest({ ...INPUT, scoringRule: 'flat' }, rules);
    assert.equal(m.scoring.rule, 'flat');
    assert.deepEqual(verifyManifest(m, rules), []);
    const problems = verifyManifest(m);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.code, 'UNKNOWN_SCORE_RULE');
  });

  test('a client paid for several entries gets one leaf with their sum', () => {
    const m = buildManifest({ ...INPUT, scoringRule: 'flat', reward: 900n }, rules);
    // Scores: accepted A1, A2, A3 = 2 each; rejected: null = 0, A1 = 1, A4 = 1, A4 = 1; total 9.
    assert.deepEqual(m.entries.map((e) => e.reward), ['200', '200', '200', '0', '100', '100', '100']);
    const tree = manifestRewardsTree(m);
    assert.equal(tree.proofFor(A1)?.amount, 300n);
    assert.equal(tree.proofFor(A4)?.amount, 200n);
    assert.equal(tree.size, 4);
  });

  test('a rule may not pay an entry that names no client', () => {
    const bad: ScoreRule = () => 1n;
    throwsProtocol(() => buildManifest({ ...INPUT, scoringRule: 'bad' }, { bad }), 'BAD_MANIFEST', /no client/);
  });
});

describe('manifest bytes and hash', () => {
  const m = buildManifest(INPUT);
  const bytes = encodeManifest(m);

  test('is canonical JSON: sorted keys, no whitespace, big integers as decimal strings', () => {
    const s = text(bytes);
    assert.equal(s, canonicalJson(JSON.parse(s)));
    assert.ok(s.startsWith('{"allocated":"1001","baseHash":"0x'), s.slice(0, 60));
    assert.doesNotMatch(s, /\s"|":\s/);
  });

  test('round-trips: decode(encode(m)) equals m, encode(decode(bytes)) equals bytes', () => {
    const back = decodeManifest(bytes);
    assert.deepEqual(back, m);
    assert.deepEqual(encodeManifest(back), bytes);
  });

  test('the hash is keccak256 of the bytes, stable, and pinned', async () => {
    const h = await manifestHash(m);
    assert.equal(h, keccak256(bytes));
    assert.equal(h, await contentHash(bytes));
    assert.equal(await manifestHash(decodeManifest(bytes)), h);
    assert.equal(await manifestHash(buildManifest(INPUT)), h);
    assert.equal(h, GOLDEN_HASH, `the manifest format moved: ${text(bytes)}`);
  });

  test('tampering with any field changes the hash (or makes the manifest invalid)', async () => {
    const original = await manifestHash(m);
    const json = JSON.parse(text(bytes)) as Record<string, unknown>;
    const paths = leafPaths(json);
    assert.ok(paths.length > 60, `only ${paths.length} leaves`);
    let valid = 0;
    for (const path of paths) {
      const tampered = setAt(structuredClone(json), path, mutate(getAt(json, path)));
      let h: string;
      try {
        h = await manifestHash(tampered as RoundManifest);
      } catch (e) {
        assert.ok(e instanceof ProtocolError && e.code === 'BAD_MANIFEST', `${path.join('.')}: ${String(e)}`);
        continue;
      }
      valid++;
      assert.notEqual(h, original, `changing ${path.join('.')} left the hash as it was`);
    }
    // The invalid ones: format, strategy.name, each entry's status, accepted entries' reason (null
    // becomes a hash), and address/hash changes that break the entry order.
    assert.ok(valid >= paths.length - 16, `${paths.length - valid} of ${paths.length} tamperings were invalid`);
  });

  test('tampering with what pays is caught by the audit too', () => {
    const json = JSON.parse(text(bytes)) as Record<string, unknown>;
    const payPaths = [
      ['reward'],
      ['allocated'],
      ['rewardsRoot'],
      ...[0, 1, 2].flatMap((i) => [['entries', i, 'client'], ['entries', i, 'numSamples'], ['entries', i, 'score'], ['entries', i, 'reward']]),
      ...[3, 4, 5, 6].flatMap((i) => [['entries', i, 'score'], ['entries', i, 'reward']]),
    ];
    for (const path of payPaths) {
      const tampered = decodeManifest(bytesOf(setAt(structuredClone(json), path, mutate(getAt(json, path)))));
      assert.notDeepEqual(verifyManifest(tampered), [], `changing ${path.join('.')} passed the audit`);
    }
  });
});

describe('decodeManifest refuses', () => {
  const m = buildManifest(INPUT);
  const json = () => JSON.parse(text(encodeManifest(m))) as Record<string, unknown> & { entries: Record<string, unknown>[] };
  const refuses = (b: Uint8Array, re: RegExp) => throwsProtocol(() => decodeManifest(b), 'BAD_MANIFEST', re);
  const enc = (s: string) => new TextEncoder().encode(s);

  test('bytes that are not UTF-8 JSON objects', () => {
    refuses(new Uint8Array([0xff, 0xfe]), /UTF-8/);
    refuses(enc('{"format":1,'), /not JSON/);
    refuses(enc('[]'), /not a JSON object/);
    refuses(enc('null'), /not a JSON object/);
  });

  test('another format', () => {
    // Format 1 (rewards leaves without an index) is no longer read: its roots would not match.
    refuses(bytesOf({ ...json(), format: 1 }), /unsupported manifest format 1/);
    refuses(bytesOf({ ...json(), format: 3 }), /unsupported manifest format 3/);
    const { format: _, ...noFormat } = json();
    refuses(bytesOf(noFormat), /unsupported manifest format undefined/);
  });

  test('any byte form but the canonical one', () => {
    refuses(enc(JSON.stringify(json(), null, 1)), /canonical/);
    refuses(enc(JSON.stringify(m)), /canonical/); // schema key order, not sorted
    refuses(enc('\ufeff' + text(encodeManifest(m))), /canonical/);
    refuses(bytesOf({ ...json(), baseHash: H('A') }), /canonical/);
    refuses(bytesOf({ ...json(), strategy: { name: 'fedadam' } }), /canonical/); // defaults left out
  });

  test('malformed fields, with the path in the message', () => {
    refuses(bytesOf({ ...json(), reward: '01001' }), /reward: a canonical decimal/);
    refuses(bytesOf({ ...json(), reward: '-1' }), /reward/);
    refuses(bytesOf({ ...json(), reward: 1001 }), /reward/);
    refuses(bytesOf({ ...json(), allocated: (UINT256_MAX + 1n).toString() }), /allocated: at most 2\^256 - 1/);
    refuses(bytesOf({ ...json(), extra: 1 }), /extra/);
    refuses(bytesOf({ ...json(), task: '1' }), /task/);
    refuses(bytesOf({ ...json(), scoring: { rule: '' } }), /scoring\.rule/);
    const j = json();
    (j.entries[0] as Record<string, unknown>).reason = { code: 'X', text: 'y' };
    refuses(bytesOf(j), /entries\.0\.reason/);
    const k = json();
    (k.entries[3] as Record<string, unknown>).reason = null;
    refuses(bytesOf(k), /entries\.3\.reason/);
  });

  test('entries out of order, or two accepted entries of one client', () => {
    const j = json();
    j.entries = [j.entries[1], j.entries[0], ...j.entries.slice(2)] as Record<string, unknown>[];
    refuses(bytesOf(j), /entries\.1: entries are not in manifest order/);
    const k = json();
    k.entries = [k.entries[3], ...k.entries.slice(0, 3), ...k.entries.slice(4)] as Record<string, unknown>[];
    refuses(bytesOf(k), /not in manifest order/);
    const d = json();
    d.entries = [d.entries[0], d.entries[0], ...d.entries.slice(1)] as Record<string, unknown>[];
    refuses(bytesOf(d), /two accepted entries/);
  });
});

describe('verifyManifest: the audit of a decoded manifest', () => {
  const m = buildManifest(INPUT);
  const codes = (x: RoundManifest) => verifyManifest(x).map((p) => `${p.code}${p.entry === undefined ? '' : `@${p.entry}`}`);
  const withEntry = (i: number, patch: Record<string, unknown>): RoundManifest => ({
    ...m,
    entries: m.entries.map((e, j) => (j === i ? ({ ...e, ...patch } as typeof e) : e)),
  });

  test('a score that is not the rule\'s', () => {
    assert.deepEqual(codes(withEntry(0, { score: '31' })), ['SCORE_MISMATCH@0']);
    assert.deepEqual(codes(withEntry(4, { score: '1' })), ['SCORE_MISMATCH@4']);
  });

  test('sample counts that do not match the scores and rewards', () => {
    assert.deepEqual(codes(withEntry(0, { numSamples: 31 })), ['SCORE_MISMATCH@0', 'REWARD_MISMATCH@0', 'REWARD_MISMATCH@1', 'REWARD_MISMATCH@2']);
  });

  test('a unit moved from one client to another (sum kept)', () => {
    const moved: RoundManifest = { ...withEntry(0, { reward: '301' }), entries: withEntry(0, { reward: '301' }).entries.map((e, j) => (j === 2 ? { ...e, reward: '500' } : e)) };
    assert.deepEqual(codes(moved), ['REWARD_MISMATCH@0', 'REWARD_MISMATCH@2', 'ROOT_MISMATCH']);
  });

  test('a budget, sum or root that does not add up', () => {
    assert.deepEqual(codes({ ...m, reward: '1000' }), ['REWARD_MISMATCH@2']);
    assert.deepEqual(codes({ ...m, allocated: '1000' }), ['ALLOCATED_MISMATCH']);
    assert.deepEqual(codes({ ...m, rewardsRoot: H('e') as `0x${string}` }), ['ROOT_MISMATCH']);
    assert.deepEqual(codes({ ...m, rewardsRoot: EMPTY_REWARDS_ROOT }), ['ROOT_MISMATCH']);
  });

  test('a reward for an entry that names no client', () => {
    assert.deepEqual(codes(withEntry(3, { reward: '1' })), ['REWARD_MISMATCH@3', 'UNPAYABLE_ENTRY@3', 'ALLOCATED_MISMATCH']);
  });

  test('a malformed manifest', () => {
    assert.deepEqual(codes({ ...m, reward: '-5' }), ['MALFORMED']);
    assert.deepEqual(codes({ ...m, entries: [...m.entries].reverse() }), ['MALFORMED']);
  });

  test('a rule nobody knows', () => {
    assert.deepEqual(codes({ ...m, scoring: { rule: 'mystery' } }), ['UNKNOWN_SCORE_RULE']);
  });
});

// ---- helpers for the tampering tests ----

type Path = (string | number)[];

function leafPaths(v: unknown, path: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leafPaths(x, [...path, i]));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, k]));
  return [path];
}

function getAt(v: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);
}

function setAt<T>(root: T, path: Path, value: unknown): T {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1] as string | number] = value;
  return root;
}

/** A different value of the same kind, valid wherever possible. */
function mutate(v: unknown): unknown {
  if (typeof v === 'number') return v > 0 && v < 1 ? v / 2 : v + 1;
  if (v === null) return H('9');
  if (typeof v === 'string') {
    if (/^0x[0-9a-f]+$/.test(v)) return v.slice(0, -1) + (parseInt(v.slice(-1), 16) ^ 1).toString(16);
    if (/^[0-9]+$/.test(v)) return (BigInt(v) + 1n).toString();
    return v + 'x';
  }
  throw new Error(`cannot mutate ${String(v)}`);
}
