import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_DOMAIN, updateDigest } from '../../protocol/eip712.ts';
import {
  createIdentity, hashToField, identityFromSeed, MAX_DEPTH, MembersTree, nullifierOf, packProof, proveClaim,
  proveMembership, SNARK_FIELD, terminateZk, unpackProof, verifyClaim, verifyMembership,
} from '../../protocol/zk/index.ts';
import { buildCircuits } from '../../circuits/build.ts';

// Real circuits, real Groth16 proofs (snarkjs): nothing here is mocked.
const digest = hashToField(updateDigest(DEFAULT_DOMAIN, { task: 3, round: 2, baseHash: `0x${'11'.repeat(32)}`, updateHash: `0x${'22'.repeat(32)}`, numSamples: 120 }));

describe('zero-knowledge circuits', () => {
  before(async () => {
    await buildCircuits({ quiet: true });
  });
  after(terminateZk);

  it('derives identities, nullifiers and field values deterministically', () => {
    const a = identityFromSeed('alice');
    assert.equal(identityFromSeed('alice').commitment, a.commitment);
    assert.notEqual(identityFromSeed('bob').commitment, a.commitment);
    assert.notEqual(nullifierOf(a.secret, 1, 1), nullifierOf(a.secret, 1, 2), 'rounds are unlinkable');
    assert.notEqual(nullifierOf(a.secret, 1, 1), nullifierOf(a.secret, 2, 1), 'tasks are unlinkable');
    assert.ok(createIdentity().secret < SNARK_FIELD);
    assert.ok(hashToField(`0x${'ff'.repeat(32)}`) < SNARK_FIELD);
  });

  it('rebuilds the same members root from the same admission order', () => {
    const ids = Array.from({ length: 7 }, (_, i) => identityFromSeed(`m${i}`).commitment);
    assert.equal(MembersTree.of(ids).root, MembersTree.of(ids).root);
    assert.notEqual(MembersTree.of(ids).root, MembersTree.of([...ids].reverse()).root);
    const path = MembersTree.of(ids).pathOf(ids[4]!);
    assert.equal(path.siblings.length, MAX_DEPTH);
    assert.equal(path.depth, 3);
    assert.throws(() => MembersTree.of(ids).pathOf(123n), /not a member/);
    assert.throws(() => MembersTree.of([]).root, /empty/);
  });

  for (const size of [1, 5]) {
    it(`proves and verifies membership in a tree of ${size}, and binds every public signal`, async () => {
      const ids = Array.from({ length: size }, (_, i) => identityFromSeed(`member-${size}-${i}`));
      const me = ids[size - 1]!;
      const tree = MembersTree.of(ids.map((i) => i.commitment));
      const { proof, nullifier } = await proveMembership({ secret: me.secret, path: tree.pathOf(me.commitment), membersRoot: tree.root, task: 3, round: 2, updateDigest: digest });
      assert.equal(nullifier, nullifierOf(me.secret, 3, 2));
      const statement = { membersRoot: tree.root, task: 3, round: 2, updateDigest: digest, nullifier };
      assert.equal(await verifyMembership(statement, proof), true);
      assert.equal(await verifyMembership({ ...statement, updateDigest: digest + 1n }, proof), false, 'another update');
      assert.equal(await verifyMembership({ ...statement, round: 3 }, proof), false, 'another round');
      assert.equal(await verifyMembership({ ...statement, nullifier: nullifier + 1n }, proof), false, 'another nullifier');
      assert.equal(await verifyMembership({ ...statement, membersRoot: tree.root + 1n }, proof), false, 'another root');
      const tampered = [...proof];
      tampered[0] = (BigInt(tampered[0]!) + 1n).toString();
      assert.equal(await verifyMembership(statement, tampered), false, 'point off the curve');
      assert.equal(await verifyMembership(statement, ['x']), false, 'garbage');
      assert.deepEqual(packProof(unpackProof(proof)), proof);
    });
  }

  it('cannot prove membership for an identity outside the tree', async () => {
    const members = MembersTree.of([identityFromSeed('in').commitment, identityFromSeed('in2').commitment]);
    const outsider = identityFromSeed('out');
    // Borrow a real member's path: the circuit recomputes the root from the outsider's commitment.
    const path = members.pathOf(identityFromSeed('in').commitment);
    await assert.rejects(proveMembership({ secret: outsider.secret, path, membersRoot: members.root, task: 1, round: 1, updateDigest: digest }), /Assert Failed|Error in template/);
  });

  it('proves a claim bound to its recipient', async () => {
    const me = identityFromSeed('claimer');
    const recipient = '0x00000000000000000000000000000000000000a1';
    const { proof, nullifier } = await proveClaim({ secret: me.secret, task: 3, round: 2, recipient });
    assert.equal(nullifier, nullifierOf(me.secret, 3, 2));
    assert.equal(await verifyClaim({ task: 3, round: 2, nullifier, recipient }, proof), true);
    assert.equal(await verifyClaim({ task: 3, round: 2, nullifier, recipient: '0x00000000000000000000000000000000000000a2' }, proof), false, 'redirected payout');
    assert.equal(await verifyClaim({ task: 3, round: 1, nullifier, recipient }, proof), false);
  });
});

describe('snarkjs worker threads', () => {
  it('are all stopped by terminateZk even when the first proofs run concurrently', async () => {
    // A separate process, because the point is whether it exits by itself: before the shared curve,
    // concurrent first calls each built a curve and only one set of threads was ever terminated.
    const fixture = fileURLToPath(new URL('./fixtures/concurrent-first-use.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('still running after 60 s'); }, 60_000);
      child.on('exit', (c) => { clearTimeout(timer); resolve(c ?? -1); });
    });
    assert.equal(code, 0, stderr);
  });
});
