import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wallet } from 'ethers';
import { buildCircuits } from '../../circuits/build.ts';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { attach } from '../../contracts/artifacts.ts';
import { CoordinatorApi } from '../../client/coordinator-api.ts';
import { loadIris } from '../../client/data/iris.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { featureSize, subset, type Dataset } from '../../client/data/dataset.ts';
import { FederatedClient, FederatedClientError } from '../../client/federated-client.ts';
import { createIdentityFile, formatIdentityFile, identityFileWarning, IdentityFileError, parseIdentityFile, readIdentityFile, writeIdentityFile } from '../../client/identity-file.ts';
import { claimPrivateRewards, claimPrivateRound, listPrivateRewards, listRewards, RewardsError } from '../../client/rewards.ts';
import { initBackend } from '../../client/tf/backend.ts';
import type { Round, Task } from '../../protocol/index.ts';
import { identityFromSeed, nullifierOf, proveClaim, terminateZk, toBytes32, type Identity } from '../../protocol/zk/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { ADMIN, startTestCoordinator, waitFor } from '../helpers/env.ts';

// The data owner's side of a private (zero-knowledge) task, against a real coordinator, Redis,
// BullMQ worker, anvil chain and real Groth16 proofs: identity files, admission, anonymous uploads
// through both paths, the members-list cache and its consistency check, and private rewards
// listed and claimed to a fresh address by a relayer, through the library and the CLI.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function flClient(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/fl-client.js', ...args], { cwd: ROOT, timeout, env: { ...process.env, FL_PRIVATE_KEY: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const jsonLines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('identity files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fl-identity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('round trip with mode 0600, never overwritten, every damage named', () => {
    const file = join(dir, 'id.json');
    const id = createIdentityFile(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(identityFileWarning(file), null);
    assert.deepEqual(readIdentityFile(file), id);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { version: 1, secret: id.secret.toString(), commitment: id.commitment.toString() });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof IdentityFileError, String(e));
        return e.code;
      }
      return 'no error';
    };
    assert.equal(code(() => writeIdentityFile(file, identityFromSeed('other'))), 'EXISTS');
    assert.deepEqual(readIdentityFile(file), id, 'the existing identity is untouched');
    assert.equal(code(() => readIdentityFile(join(dir, 'missing.json'))), 'NOT_FOUND');
    assert.equal(code(() => parseIdentityFile('{"version":1,')), 'BAD_JSON');
    assert.equal(code(() => parseIdentityFile(JSON.stringify({ version: 1, secret: 5, commitment: '6' }))), 'BAD_FORMAT', 'numbers lose precision: strings only');
    assert.equal(code(() => parseIdentityFile(JSON.stringify({ version: 2, secret: '5', commitment: '6' }))), 'BAD_FORMAT');
    const other = identityFromSeed('x');
    assert.equal(code(() => parseIdentityFile(JSON.stringify({ version: 1, secret: other.secret.toString(), commitment: id.commitment.toString() }))), 'COMMITMENT_MISMATCH');
    assert.deepEqual(parseIdentityFile(formatIdentityFile(other)), other);
    chmodSync(file, 0o644);
    assert.match(identityFileWarning(file) ?? '', /mode 0644/);
  });
});

describe('a private task from the data owner side', () => {
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let admin: CoordinatorApi;
  let task: Task;
  let dir: string;
  let parts: Dataset[];
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => identityFromSeed(`private-client-test ${n}`)) as [Identity, Identity, Identity];
  const committed: Round[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  /** Counts the members-list downloads of a client. */
  class CountingApi extends CoordinatorApi {
    fetches = 0;
    override members(t: number) {
      this.fetches++;
      return super.members(t);
    }
  }

  const committedRound = (round: number) =>
    waitFor(`round ${round} committed`, async () => {
      const r = await admin.getRound(task.id, round);
      return r.state === 'committed' ? r : null;
    }, 60_000);

  before(async () => {
    await buildCircuits({ quiet: true });
    await initBackend();
    chain = await startChain();
    cleanups.push(() => chain.stop());
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(() => chainClient.close());
    env = await startTestCoordinator({}, { chain: chainClient, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    admin = new CoordinatorApi(env.c.url, ADMIN);
    task = await admin.createTask({ name: 'private iris', model: 'iris-mlp', privacy: 'private', training: { localEpochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '1000', budget: '3000' } });
    dir = mkdtempSync(join(tmpdir(), 'fl-private-client-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const iris = loadIris();
    parts = iidPartition(iris.n, 3, 5).map((ix) => subset(iris, ix));
  });
  after(async () => {
    for (const f of cleanups.reverse()) await Promise.resolve(f()).catch((e) => console.error('cleanup failed:', e));
    await terminateZk();
  });

  test('members upload anonymously through both paths; the members list is cached by count and checked against the root', async () => {
    assert.equal(task.privacy, 'private');
    const admitted = await admin.admitMembers(task.id, [alice.commitment, bob.commitment]);
    assert.deepEqual({ admitted: admitted.admitted, count: admitted.count }, { admitted: 2, count: 2 });
    const list = await admin.members(task.id);
    assert.deepEqual(list.commitments, [alice.commitment.toString(), bob.commitment.toString()]);
    assert.equal(list.root, admitted.root);

    const aliceApi = new CountingApi(env.c.url);
    const a = new FederatedClient({ coordinatorUrl: env.c.url, api: aliceApi, identity: alice, pollMs: 50 });
    const b = new FederatedClient({ coordinatorUrl: env.c.url, identity: bob, upload: { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix }, pollMs: 50 });
    const keyless = new FederatedClient({ coordinatorUrl: env.c.url, pollMs: 50 });
    const carolClient = new FederatedClient({ coordinatorUrl: env.c.url, identity: carol, pollMs: 50 });
    cleanups.push(() => Promise.all([a, b, keyless, carolClient].map((c) => c.close())).then(() => {}));

    // No registration in a private task; an identity is required to take part.
    await assert.rejects(a.register(task.id), (e) => e instanceof FederatedClientError && e.code === 'PRIVATE_TASK');
    const round = await admin.openRound(task.id, { durationSeconds: 120, minClients: 2, maxClients: 2 });
    assert.equal(round.membersCount, 2);
    await assert.rejects(keyless.contribute({ task, round, data: parts[0]! }), (e) => e instanceof FederatedClientError && e.code === 'IDENTITY_REQUIRED');
    // Carol is admitted after the round opened: she is not in its snapshot.
    await admin.admitMembers(task.id, [carol.commitment]);
    assert.equal(await carolClient.isRoundMember(round), false);
    await assert.rejects(carolClient.contribute({ task, round, data: parts[2]! }), (e) => e instanceof FederatedClientError && e.code === 'NOT_A_MEMBER');

    // A coordinator serving a list that does not give the round's root is caught before training.
    class ReorderingApi extends CoordinatorApi {
      override async members(t: number) {
        const l = await super.members(t);
        return { ...l, commitments: [...l.commitments].reverse() };
      }
    }
    class ShortApi extends CoordinatorApi {
      override async members(t: number) {
        const l = await super.members(t);
        return { ...l, count: 1, commitments: l.commitments.slice(0, 1) };
      }
    }
    for (const Api of [ReorderingApi, ShortApi]) {
      const liar = new FederatedClient({ coordinatorUrl: env.c.url, api: new Api(env.c.url), identity: alice });
      await assert.rejects(liar.contribute({ task, round, data: parts[0]! }), (e) => e instanceof FederatedClientError && e.code === 'MEMBERS_MISMATCH' && /inconsistent members list/.test(e.message));
      await liar.close();
    }

    const [ra, rb] = await Promise.all([a.contribute({ task, round, data: parts[0]! }), b.contribute({ task, round, data: parts[1]! })]);
    assert.equal(ra.via, 'http');
    assert.equal(rb.via, 'queue');
    assert.equal(ra.nullifier, toBytes32(nullifierOf(alice.secret, task.id, round.round)));
    assert.equal(rb.nullifier, toBytes32(nullifierOf(bob.secret, task.id, round.round)));
    assert.deepEqual(await a.waitForDecision(task.id, round.round, ra), { status: 'accepted' });
    assert.deepEqual(await b.waitForDecision(task.id, round.round, rb), { status: 'accepted' });
    // The queue job's id is the BullMQ id; the nullifier alone also finds the decision.
    assert.deepEqual(await b.waitForDecision(task.id, round.round, { jobId: 'not-a-job', nullifier: rb.nullifier, updateHash: rb.updateHash }), { status: 'accepted' });

    const r1 = await committedRound(round.round);
    committed.push(r1);
    assert.deepEqual(new Set(r1.acceptedUpdates.map((u) => u.client)), new Set([ra.nullifier, rb.nullifier]), 'listed by nullifier, no address');
    assert.equal(aliceApi.fetches, 1);
    // Same count: the cached tree is reused, nothing is downloaded again.
    await a.membersTree(round);
    assert.equal(aliceApi.fetches, 1);

    // Round 2 has three members: Alice's client extends its tree with one download, and Carol
    // takes part through the CLI (fl-client join --identity) while Alice uses the library.
    const round2 = await admin.openRound(task.id, { durationSeconds: 120, minClients: 2, maxClients: 2 });
    assert.equal(round2.membersCount, 3);
    const carolFile = join(dir, 'carol.json');
    writeIdentityFile(carolFile, carol);
    const dataFile = join(dir, 'carol-data.json');
    const f = featureSize(parts[2]!);
    const rows = Array.from({ length: parts[2]!.n }, (_, i) => Array.from(parts[2]!.x.subarray(i * f, (i + 1) * f)));
    writeFileSync(dataFile, JSON.stringify({ x: rows, y: Array.from(parts[2]!.y) }));
    const [cli, ra2] = await Promise.all([
      flClient(['join', '--coordinator', env.c.url, '--task', String(task.id), '--identity', carolFile, '--data', dataFile, '--rounds', '1', '--wait-seconds', '60', '--json']),
      a.contribute({ task, round: round2, data: parts[0]! }),
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const events = jsonLines(cli.stdout);
    assert.deepEqual(events[0], { event: 'ready', private: true, commitment: carol.commitment.toString(), backend: events[0]!.backend, task: task.id, samples: parts[2]!.n });
    const accepted = events.find((e) => e.event === 'accepted');
    assert.ok(accepted, cli.stdout);
    assert.equal(accepted.round, round2.round);
    assert.equal(accepted.nullifier, toBytes32(nullifierOf(carol.secret, task.id, round2.round)));
    assert.ok(!/0x[0-9a-f]{40}\b/.test(cli.stdout.replace(/0x[0-9a-f]{64}/g, '')), 'no address in the output of a private join');
    assert.deepEqual(await a.waitForDecision(task.id, round2.round, ra2), { status: 'accepted' });
    assert.equal(aliceApi.fetches, 2, 'one download for the grown list');
    committed.push(await committedRound(round2.round));

    // A public-task command refuses a private task and the other way round.
    const noIdentity = await flClient(['join', '--coordinator', env.c.url, '--task', String(task.id), '--data', dataFile, '--json']);
    assert.equal(noIdentity.code, 1);
    assert.match(noIdentity.stderr, /task \d+ is private: give --identity FILE/);
  });

  test('private rewards are listed per nullifier and claimed to a fresh address by a relayer', async () => {
    assert.equal(committed.length, 2, 'needs the rounds of the previous test');
    const api = new CoordinatorApi(env.c.url);
    /** What a round's manifest pays the member's nullifier of that round. */
    const owed = async (r: Round, id: Identity) => {
      const { manifest } = await api.getManifest(r.manifestHash!);
      assert.ok(manifest.private, 'a private manifest');
      const n = toBytes32(nullifierOf(id.secret, task.id, r.round));
      return manifest.entries.filter((e) => e.client === n).reduce((s, e) => s + BigInt(e.reward), 0n);
    };
    const expectA = await Promise.all(committed.map((r) => owed(r, alice)));
    assert.ok(expectA.every((x) => x > 0n));
    const lines = await listPrivateRewards({ api, task: task.id, identity: alice });
    assert.deepEqual(lines.map((l) => [l.round, l.nullifier, l.amount, l.claimed, l.claimable]), committed.map((r, i) => [r.round, toBytes32(nullifierOf(alice.secret, task.id, r.round)), expectA[i], false, true]));
    assert.deepEqual((await listPrivateRewards({ api, task: task.id, identity: bob })).map((l) => l.round), [committed[0]!.round]);
    assert.deepEqual((await listPrivateRewards({ api, task: task.id, identity: identityFromSeed('stranger') })), []);
    await assert.rejects(listRewards({ api, task: task.id, account: chain.addresses[3]! }), (e) => e instanceof RewardsError && e.code === 'WRONG_MODE');

    // Tampered claims straight to the distributor come back by their custom error names.
    const relayer = chain.signers[2]!;
    const distributor = attach('RewardDistributor', chainClient.addresses.distributor, relayer);
    const [l1, l2] = lines as [typeof lines[0], typeof lines[0]];
    const recipient = Wallet.createRandom().address.toLowerCase();
    const sender = chain.addresses[2]!;
    const forOther = await proveClaim({ secret: alice.secret, task: task.id, round: l1.round, recipient: chain.addresses[8]! });
    const args = { task: task.id, round: l1.round, nullifier: l1.nullifier, amount: l1.amount, recipient, merkleProof: l1.proof, zkProof: forOther.proof, sender };
    await assert.rejects(claimPrivateRound(distributor, args), (e) => e instanceof RewardsError && e.code === 'INVALID_ZK_PROOF' && e.revertName === 'DistributorInvalidZkProof');
    await assert.rejects(claimPrivateRound(distributor, { ...args, amount: l1.amount + 1n }), (e) => e instanceof RewardsError && e.code === 'INVALID_PROOF' && e.revertName === 'DistributorInvalidMerkleProof');

    // The library: a relayer sends, the recipient the proofs bind is paid; spent rounds are skipped.
    const balance = (a: string) => chainClient.token.balanceOf(a);
    const relayerBefore = await balance(sender);
    const seen: number[] = [];
    const claims = await claimPrivateRewards({ api, task: task.id, identity: alice, recipient, signer: relayer, rounds: [l1.round], onClaimed: (c) => seen.push(c.round) });
    assert.deepEqual(claims.map((c) => [c.round, c.nullifier, c.recipient, c.amount]), [[l1.round, l1.nullifier, recipient, l1.amount]]);
    assert.deepEqual(seen, [l1.round]);
    assert.equal(await balance(recipient), l1.amount);
    assert.equal(await balance(sender), relayerBefore, 'the relayer is not paid');
    const receipt = await chain.provider.getTransactionReceipt(claims[0]!.txHash);
    assert.equal(receipt?.from.toLowerCase(), sender);
    assert.equal(await chainClient.distributor.isNullifierSpent(BigInt(l1.nullifier)), true);
    await assert.rejects(claimPrivateRewards({ api, task: task.id, identity: alice, recipient, signer: relayer, rounds: [l1.round] }), (e) => e instanceof RewardsError && e.code === 'ALREADY_CLAIMED');
    await assert.rejects(claimPrivateRound(distributor, { ...args, zkProof: (await proveClaim({ secret: alice.secret, task: task.id, round: l1.round, recipient })).proof }), (e) => e instanceof RewardsError && e.code === 'ALREADY_CLAIMED' && e.revertName === 'DistributorNullifierSpent');
    // Nothing to claim: the recipient callback is never called (no fresh key made for nothing).
    const bobFirst = await claimPrivateRewards({ api, task: task.id, identity: bob, recipient: () => chain.addresses[7]!, signer: relayer });
    assert.equal(bobFirst.length, 1);
    let asked = false;
    assert.deepEqual(await claimPrivateRewards({ api, task: task.id, identity: bob, recipient: () => ((asked = true), chain.addresses[7]!), signer: relayer }), []);
    assert.equal(asked, false);
    assert.deepEqual((await listPrivateRewards({ api, task: task.id, identity: alice })).map((l) => [l.round, l.claimed]), [[l1.round, true], [l2.round, false]]);

    // The CLI: list, then claim the rest to a fresh address whose key goes to a 0600 file.
    const aliceFile = join(dir, 'alice.json');
    writeIdentityFile(aliceFile, alice);
    const relayerKey = { FL_PRIVATE_KEY: chain.anvil.privateKeys[2]! };
    const listed = await flClient(['rewards', '--coordinator', env.c.url, '--task', String(task.id), '--identity', aliceFile, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const table = JSON.parse(listed.stdout) as { private: boolean; rewards: { round: number; nullifier: string; amount: string; claimed: boolean }[]; unclaimed: string };
    assert.equal(table.private, true);
    assert.deepEqual(table.rewards.map((r) => [r.round, r.nullifier, r.amount, r.claimed]), [[l1.round, l1.nullifier, l1.amount.toString(), true], [l2.round, l2.nullifier, l2.amount.toString(), false]]);
    assert.equal(table.unclaimed, l2.amount.toString());

    const usage = await flClient(['claim', '--coordinator', env.c.url, '--task', String(task.id), '--private'], relayerKey);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /--private needs --identity/);
    const keyOut = join(dir, 'fresh.key');
    const claimed = await flClient(['claim', '--coordinator', env.c.url, '--task', String(task.id), '--private', '--identity', aliceFile, '--fresh-key-out', keyOut, '--json'], relayerKey);
    assert.equal(claimed.code, 0, claimed.stderr);
    const ev = jsonLines(claimed.stdout);
    assert.equal(statSync(keyOut).mode & 0o777, 0o600);
    const fresh = new Wallet(readFileSync(keyOut, 'utf8').trim());
    assert.deepEqual(ev[0], { event: 'recipient', fresh: true, address: fresh.address.toLowerCase(), keyFile: keyOut });
    assert.ok(!claimed.stdout.includes(fresh.privateKey), 'the key is in the file, not on stdout');
    assert.deepEqual(ev.slice(1).map((e) => [e.event, e.round, e.nullifier, e.recipient, e.amount]), [
      ['claimed', l2.round, l2.nullifier, fresh.address.toLowerCase(), l2.amount.toString()],
      ['done', undefined, undefined, fresh.address.toLowerCase(), undefined],
    ]);
    assert.equal(await balance(fresh.address), l2.amount);
    // Nothing left: exit 0, no key made or printed.
    const again = await flClient(['claim', '--coordinator', env.c.url, '--task', String(task.id), '--private', '--identity', aliceFile, '--json'], relayerKey);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(jsonLines(again.stdout), [{ event: 'done', task: task.id, private: true, sender, recipient: null, claims: 0, total: '0' }]);
  });
});

