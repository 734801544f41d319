import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { decodeManifest, manifestRewardsTree, MembersList, Round, Task, verifyRewardProof, type Rejection } from '../../protocol/index.ts';
import { identityFromSeed, MembersTree, terminateZk } from '../../protocol/zk/index.ts';
import { buildCircuits } from '../../circuits/build.ts';
import { verifyUpdateProof } from '../../coordinator/use-cases/verify-update-proof.ts';
import { ADMIN, startTestCoordinator, waitFor } from '../helpers/env.ts';
import {
  adminPost, buildPrivateUpdate, buildUpdate, decisionOf, getRound, IRIS_PARAMS, queueProducer, randomDelta, uploadHttp,
  type QueueProducer, type UpdateTarget,
} from '../helpers/updates.ts';

// A private task end to end through the real coordinator, queue and worker, with real Groth16
// proofs: members are admitted by commitment, upload without any address, are accepted once per
// nullifier, and the manifest pays nullifiers and carries every proof.

describe('private task: anonymous uploads with membership proofs', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let producer: QueueProducer;
  let url: string;
  let task: Task;
  const [alice, bob, carol, late] = ['alice', 'bob', 'carol', 'late'].map((n) => identityFromSeed(`private-round-test ${n}`)) as [ReturnType<typeof identityFromSeed>, ReturnType<typeof identityFromSeed>, ReturnType<typeof identityFromSeed>, ReturnType<typeof identityFromSeed>];
  const tree = MembersTree.of([alice, bob, carol].map((m) => m.commitment));

  const members = async (t: number) => MembersList.parse(await (await fetch(`${url}/v1/tasks/${t}/members`)).json());
  const admit = (t: number, commitments: bigint[], expect = 200) => adminPost(url, `/v1/tasks/${t}/members`, { commitments: commitments.map(String) }, expect);

  before(async () => {
    await buildCircuits({ quiet: true });
    env = await startTestCoordinator();
    url = env.c.url;
    producer = queueProducer(env.config.redisUrl, env.config.prefix);
    task = Task.parse(await adminPost(url, '/v1/tasks', { name: 'private iris', model: 'iris-mlp', privacy: 'private', rewards: { perRound: '1000' }, wire: { codec: 'float32' } }));
  });
  after(async () => {
    const [p, e] = [producer, env];
    await p?.close();
    await e?.cleanup();
    await terminateZk();
  });

  test('admission: by commitment, in order, duplicates skipped, private tasks only', async () => {
    assert.equal(task.privacy, 'private');
    const noMembers = await fetch(`${url}/v1/tasks/${task.id}/rounds`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: '{}' });
    assert.equal(noMembers.status, 409, 'a private round needs members');
    assert.equal(((await noMembers.json()) as { error: { code: string } }).error.code, 'NO_MEMBERS');
    const first = await admit(task.id, [alice.commitment, bob.commitment, alice.commitment]);
    assert.deepEqual({ admitted: first.admitted, count: first.count }, { admitted: 2, count: 2 });
    const second = await admit(task.id, [carol.commitment]);
    assert.equal(second.root, tree.rootHex, 'the coordinator builds the same Lean IMT the members do');
    const list = await members(task.id);
    assert.deepEqual(list.commitments, [alice, bob, carol].map((m) => m.commitment.toString()));
    const unauth = await fetch(`${url}/v1/tasks/${task.id}/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ commitments: ['1'] }) });
    assert.equal(unauth.status, 401);
    const bad = await fetch(`${url}/v1/tasks/${task.id}/members`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ commitments: ['0x12'] }) });
    assert.equal(bad.status, 400);
    const pub = Task.parse(await adminPost(url, '/v1/tasks', { name: 'public iris', model: 'iris-mlp' }));
    assert.equal((await admit(pub.id, [alice.commitment], 409)).error.code, 'NOT_PRIVATE');
  });

  test('uploads: proof instead of signature, one per nullifier, every forgery refused with its reason', async () => {
    const opened = Round.parse(await adminPost(url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 60, minClients: 2, maxClients: 3 }));
    assert.equal(opened.membersRoot, tree.rootHex);
    assert.equal(opened.membersCount, 3);
    // Admitted after the round opened: not in this round's snapshot.
    await admit(task.id, [late.commitment]);
    const target: UpdateTarget = { task: task.id, round: opened.round, baseHash: opened.baseHash, domain: task.eip712 };
    const build = (identity: typeof alice, seed: number, t: MembersTree = tree, numSamples = 20) =>
      buildPrivateUpdate({ target, identity, tree: t, delta: randomDelta(IRIS_PARAMS, seed), numSamples });

    const a = await build(alice, 1);
    const viaHttp = await uploadHttp(url, a);
    assert.equal(viaHttp.status, 202, JSON.stringify(viaHttp.body));
    const accepted = await decisionOf(url, task.id, opened.round, viaHttp.body.jobId);
    assert.equal(accepted.status, 'accepted');
    if (accepted.status === 'accepted') {
      assert.equal(accepted.update.client, a.client, 'listed under its nullifier, not an address');
      assert.deepEqual(accepted.update.proof, (a.job as { proof: string[] }).proof);
    }

    const refusals: [string, Rejection['code']][] = [];
    // The same member again, with another delta: same nullifier.
    const again = await build(alice, 2);
    refusals.push([await producer.upload(again), 'DUPLICATE']);
    // Bob's proof sent under Alice's nullifier: the proof binds the nullifier it was made for.
    const b = await build(bob, 3);
    const stolen = { ...b, client: a.client, job: { ...b.job, nullifier: a.client } };
    refusals.push([await producer.upload({ ...stolen, updateHash: b.updateHash }), 'BAD_PROOF']);
    // The proof binds numSamples: inflating it after proving breaks the proof.
    const inflated = { ...b, job: { ...b.job, numSamples: 5000 } };
    refusals.push([await producer.upload(inflated), 'BAD_PROOF']);
    // A member admitted after the round opened proves against a newer root.
    const newer = MembersTree.of([alice, bob, carol, late].map((m) => m.commitment));
    refusals.push([await producer.upload(await build(late, 4, newer)), 'BAD_PROOF']);
    // A signed public update on a private task.
    const wallet = Wallet.createRandom();
    refusals.push([await producer.upload(await buildUpdate({ target, wallet, delta: randomDelta(IRIS_PARAMS, 5) })), 'WRONG_MODE']);
    // Garbage in the proof.
    refusals.push([await producer.addJob({ ...b.job, proof: ['1', '2', '3', '4', '5', '6', '7', '8'] }), 'BAD_PROOF']);
    for (const [jobId, code] of refusals) {
      const d = await decisionOf(url, task.id, opened.round, jobId);
      assert.equal(d.status, 'rejected', `${code}: ${JSON.stringify(d)}`);
      if (d.status === 'rejected') assert.equal(d.rejection.code, code, d.rejection.reason);
    }
    // Over HTTP a bad proof is refused before the bytes are parked.
    const forged = await uploadHttp(url, { ...b, headers: { ...b.headers, 'x-fl-nullifier': a.client } });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error.code, 'BAD_PROOF');
    assert.equal((await getRound(url, task.id, opened.round)).accepted, 1, 'no refusal counted');

    await producer.upload(b);
    await producer.upload(await build(carol, 6));
    const done = await waitFor('aggregation', async () => {
      const r = await getRound(url, task.id, opened.round);
      return r.state === 'aggregated' ? r : null;
    });
    assert.equal(done.accepted, 3);

    // The manifest: nullifiers, proofs, the members snapshot, and a rewards tree of nullifiers.
    const manifest = decodeManifest(new Uint8Array(await (await fetch(`${url}/v1/manifests/${done.manifestHash}`)).arrayBuffer()));
    assert.deepEqual(manifest.private, { membersRoot: tree.rootHex, members: 3 });
    const acceptedEntries = manifest.entries.filter((e) => e.status === 'accepted');
    assert.equal(acceptedEntries.length, 3);
    for (const e of acceptedEntries) {
      assert.match(e.client!, /^0x[0-9a-f]{64}$/);
      assert.ok(e.status === 'accepted' && e.proof);
      const ok = await verifyUpdateProof(task.eip712, tree.rootHex, { task: task.id, round: opened.round, nullifier: e.client as `0x${string}`, baseHash: manifest.baseHash, updateHash: e.updateHash!, numSamples: e.numSamples, proof: e.proof! });
      assert.equal(ok, true, 'anyone can re-verify an accepted entry from the manifest alone');
    }
    assert.ok(manifest.entries.some((e) => e.status === 'rejected' && e.reason?.code === 'BAD_PROOF'));
    const rewards = manifestRewardsTree(manifest);
    assert.equal(rewards.root, done.rewardsRoot);
    const claim = rewards.proofFor(a.client);
    assert.ok(claim && claim.amount > 0n);
    assert.equal(verifyRewardProof(done.rewardsRoot!, claim.index, a.client, claim.amount, claim.proof, 'nullifier'), true);
  });
});
