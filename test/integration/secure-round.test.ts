import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { auditTask, CHECKS, directorySource, formatFinding } from '../../client/audit/index.ts';
import { CoordinatorApi, CoordinatorError } from '../../client/coordinator-api.ts';
import { loadIris } from '../../client/data/iris.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { subset } from '../../client/data/dataset.ts';
import { FederatedClient } from '../../client/federated-client.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { evaluate } from '../../client/tf/trainer.ts';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { contentHash, decodeCheckpoint, verifyManifest, type Round, type RoundManifest, type Task } from '../../protocol/index.ts';
import { SecAggParticipant, secureRoundsEpsilon, signSecAggMessage, SecureTranscript } from '../../protocol/secagg/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { buildCircuits } from '../../circuits/build.ts';
import { identityFromSeed, terminateZk } from '../../protocol/zk/index.ts';
import { expectAudited } from '../helpers/chain-audit.ts';
import { ADMIN, startTestCoordinator, waitFor } from '../helpers/env.ts';

// Secure aggregation end to end: a real coordinator (Redis, BullMQ worker, scheduler, chain writer
// on anvil), five data owners training iris with TensorFlow.js, masking and revealing over the
// REST API, half uploading through Redis. One owner vanishes after uploading; the round still
// commits, and an outside audit rebuilds the checkpoint from masked uploads and the transcript.
describe('a secure round', () => {
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let admin: CoordinatorApi;
  let task: Task;
  let clients: FederatedClient[];
  let done: Round;
  let manifest: RoundManifest;
  const temp: string[] = [];

  before(async () => {
    await initBackend();
    chain = await startChain();
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    env = await startTestCoordinator({ schedulerIntervalMs: 50 }, { chain: chainClient, chainIntervalMs: 100 });
    admin = new CoordinatorApi(env.c.url, ADMIN);
    task = await admin.createTask({
      name: 'secure iris',
      model: 'iris-mlp',
      training: { localEpochs: 5, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' },
      rewards: { perRound: '1000', budget: '2000' },
      secure: { clipNorm: 5, range: 0.5, maxClients: 8, phaseSeconds: 3 },
      seed: 7,
    });
    clients = [0, 1, 2, 3, 4].map(
      (i) =>
        new FederatedClient({
          coordinatorUrl: env.c.url,
          wallet: Wallet.createRandom(),
          upload: i % 2 === 0 ? { mode: 'http' } : { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix },
          pollMs: 50,
        }),
    );
    for (const c of clients) await c.register(task.id);
  });
  after(async () => {
    for (const d of temp) rmSync(d, { recursive: true, force: true });
    await Promise.all((clients ?? []).map((c) => c.close()));
    await env?.cleanup();
    chainClient?.close();
    await chain?.stop();
    await terminateZk();
  });

  test('five clients, one drops after uploading: the round commits and the audit rebuilds it bit for bit', async () => {
    const iris = loadIris();
    const parts = iidPartition(iris.n, 5, 3);
    const round = await admin.openRound(task.id, { durationSeconds: 60, minClients: 3, maxClients: 5 });
    assert.equal(round.secure?.phase, 'keys');
    const results = await Promise.all(clients.map((c, i) => c.contribute({ task, round, data: subset(iris, parts[i]!), leaveAfterUpload: i === 2 })));
    done = await waitFor('round committed', async () => {
      const s = await admin.getRound(task.id, round.round);
      if (s.state === 'failed') throw new Error(`round failed: ${s.failureReason}`);
      return s.state === 'committed' ? s : null;
    }, 60_000);
    assert.equal(done.accepted, 5);
    assert.deepEqual(new Set(done.acceptedUpdates.map((u) => u.updateHash)), new Set(results.map((r) => r.updateHash)));

    const m = await admin.getManifest(done.manifestHash!);
    manifest = m.manifest;
    assert.deepEqual(verifyManifest(manifest), []);
    assert.ok(manifest.secure, 'the manifest records the secure encoding');
    assert.equal(manifest.secure.config.bits, 16);
    assert.equal(manifest.secure.threshold, 4, 'two thirds of five, rounded up');
    assert.deepEqual(manifest.secure.dropped, [], 'the dropout uploaded, so it is a survivor whose self-seed was rebuilt');
    // Rewards follow the declared sample counts of the survivors.
    assert.equal(manifest.entries.filter((e) => e.status === 'accepted').reduce((s, e) => s + BigInt(e.reward), 0n), 1000n);

    // The transcript: four reveals (the dropout never answered), everything signed.
    const tr = await fetch(new URL(`/v1/transcripts/${manifest.secure.transcriptHash}`, env.c.url));
    const trBytes = new Uint8Array(await tr.arrayBuffer());
    assert.equal(await contentHash(trBytes), manifest.secure.transcriptHash);
    const transcript = SecureTranscript.parse(JSON.parse(new TextDecoder().decode(trBytes)));
    assert.equal(transcript.adverts.length, 5);
    assert.equal(transcript.bundles.length, 5);
    assert.equal(transcript.reveals.length, 4);
    assert.ok(!transcript.reveals.some((r) => r.client === (results[2] && done.acceptedUpdates.find((u) => u.updateHash === results[2]!.updateHash)?.client)));

    // What is served per client is a masked upload: two bytes a parameter, no float32 delta.
    const up = await fetch(new URL(`/v1/updates/${results[0]!.updateHash}`, env.c.url));
    assert.equal((await up.arrayBuffer()).byteLength, task.params * 2);

    // The model learned from the decoded sum.
    const cp = decodeCheckpoint((await admin.getCheckpoint(done.checkpointHash!)).bytes);
    const genesis = decodeCheckpoint((await admin.getCheckpoint(task.genesisHash)).bytes);
    const before = await evaluate({ spec: task.modelSpec, weights: genesis.weights, data: iris });
    const afterEval = await evaluate({ spec: task.modelSpec, weights: cp.weights, data: iris });
    assert.ok(afterEval.accuracy > before.accuracy + 0.1, `accuracy ${before.accuracy} -> ${afterEval.accuracy}`);

    // An outsider's audit with re-aggregation passes from the coordinator's HTTP store.
    await expectAudited(chain, env.c.url, task.id);
  });

  test('a tampered masked upload or transcript fails the audit, naming it', async () => {
    assert.ok(manifest?.secure, 'needs the committed round of the test before');
    const audit = async (dir: string) =>
      auditTask({ rpcUrl: chain.anvil.rpcUrl, registry: chain.d.addresses.registry, task: task.id, source: directorySource(dir), reaggregate: true, fromBlock: chain.d.blockNumber });
    const copy = () => {
      const d = mkdtempSync(join(tmpdir(), 'fl-secure-audit-'));
      temp.push(d);
      cpSync(env.config.dataDir, d, { recursive: true });
      return d;
    };
    const pathOf = (dir: string, kind: string, hash: string) => join(dir, kind, hash.slice(2, 4), hash);
    const clean = await audit(env.config.dataDir);
    assert.equal(clean.pass, true, clean.findings.map(formatFinding).join('\n'));
    assert.ok(clean.checks.some((c) => c.check === CHECKS.reaggregateTranscript && c.ok && !c.skipped));

    const d1 = copy();
    const masked = pathOf(d1, 'updates', done.acceptedUpdates[1]!.updateHash);
    const b = readFileSync(masked);
    b[10] = (b[10] as number) ^ 1;
    writeFileSync(masked, b);
    const r1 = await audit(d1);
    assert.equal(r1.pass, false);
    const f1 = r1.findings.find((f) => f.check === CHECKS.reaggregateUpdates);
    assert.ok(f1 && f1.detail.includes(done.acceptedUpdates[1]!.updateHash), r1.findings.map(formatFinding).join('\n'));

    const d2 = copy();
    const tpath = pathOf(d2, 'transcripts', manifest.secure.transcriptHash);
    writeFileSync(tpath, readFileSync(tpath, 'utf8').replace(/"survivorsHash":"0x[0-9a-f]/, (s) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0')));
    const r2 = await audit(d2);
    const f2 = r2.findings.find((f) => f.check === CHECKS.reaggregateTranscript);
    assert.ok(f2 && /transcript/.test(f2.detail), r2.findings.map(formatFinding).join('\n'));
  });

  test('protocol messages are judged on arrival: wrong phase, bad signature and a wrong share key', async () => {
    const round = await admin.openRound(task.id, { durationSeconds: 60, minClients: 3, maxClients: 3 });
    // Three hand-driven participants on freshly registered wallets.
    const owners = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
    for (const w of owners) await new FederatedClient({ coordinatorUrl: env.c.url, wallet: w }).register(task.id);
    const api = new CoordinatorApi(env.c.url);
    const scope = { chainId: task.eip712.chainId, task: task.id, round: round.round };
    const ps = owners.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
    // A malformed share bundle is refused by its schema.
    await assert.rejects(api.postSecure(task.id, round.round, 'shares', { task: task.id, round: round.round }), (e: unknown) => e instanceof CoordinatorError && e.status === 400);
    // An advert signed by someone else is refused and recorded nowhere.
    const forged = await signSecAggMessage(owners[1]!, task.eip712, 'keys', ps[0]!.advert());
    await assert.rejects(api.postSecure(task.id, round.round, 'keys', forged), (e: unknown) => e instanceof CoordinatorError && e.code === 'BAD_SIGNATURE');
    for (const [i, p] of ps.entries()) await api.postSecure(task.id, round.round, 'keys', await signSecAggMessage(owners[i]!, task.eip712, 'keys', p.advert()));
    const s1 = await waitFor('shares phase', async () => ((await api.secureState(task.id, round.round)).phase === 'shares' ? api.secureState(task.id, round.round) : null));
    for (const [i, p] of ps.entries()) await api.postSecure(task.id, round.round, 'shares', await signSecAggMessage(owners[i]!, task.eip712, 'shares', await p.shareBundle(s1.adverts, s1.threshold!)));
    // A key advert once the key phase is over: refused (409).
    await assert.rejects(api.postSecure(task.id, round.round, 'keys', await signSecAggMessage(owners[0]!, task.eip712, 'keys', ps[0]!.advert())), (e: unknown) => e instanceof CoordinatorError && e.status === 409);
    await waitFor('masked phase', async () => (await api.secureState(task.id, round.round)).phase === 'masked');
    // Masked uploads of all three, through the real upload path.
    const uploader = (await import('../../client/upload/http-uploader.ts')).httpUploader(api);
    const { signUpdate } = await import('../../protocol/index.ts');
    const { bytesFromWords, zeroWords } = await import('../../protocol/secagg/index.ts');
    for (const [i, p] of ps.entries()) {
      const bytes = bytesFromWords(p.maskInput(zeroWords(16, task.params), 16, s1.adverts));
      const updateHash = await contentHash(bytes);
      const msg = { task: task.id, round: round.round, baseHash: round.baseHash, updateHash, numSamples: 10 };
      await uploader.upload({ ...msg, client: p.address, signature: await signUpdate(owners[i]!, task.eip712, msg) }, bytes);
    }
    const s3 = await waitFor('consistency phase', async () => {
      const s = await api.secureState(task.id, round.round);
      return s.phase === 'consistency' ? s : null;
    });
    assert.deepEqual(s3.survivors, ps.map((p) => p.address).sort());
    // A reveal before the list is confirmed is out of phase (409).
    const { secureRoundThresholds, survivorsHash } = await import('../../protocol/secagg/index.ts');
    await assert.rejects(api.postSecure(task.id, round.round, 'reveal', { task: task.id, round: round.round, client: ps[0]!.address, survivorsHash: survivorsHash(s3.survivors!), keys: [], signature: `0x${'00'.repeat(65)}` }), (e: unknown) => e instanceof CoordinatorError && e.status === 409);
    // A confirmation of another list is refused with its reason, and recorded against its signer.
    const other = await signSecAggMessage(owners[1]!, task.eip712, 'consistency', { task: task.id, round: round.round, client: ps[1]!.address as `0x${string}`, advertisersHash: survivorsHash(s3.survivors!), survivorsHash: survivorsHash(s3.survivors!.slice(1)) });
    await assert.rejects(api.postSecure(task.id, round.round, 'consistency', other), (e: unknown) => e instanceof CoordinatorError && e.status === 400 && e.code === 'OTHER_SURVIVORS');
    for (const [i, p] of ps.entries()) await api.postSecure(task.id, round.round, 'consistency', await signSecAggMessage(owners[i]!, task.eip712, 'consistency', p.confirm(s3.survivors!, s1.adverts, s1.threshold!)));
    const s4 = await waitFor('unmask phase', async () => {
      const s = await api.secureState(task.id, round.round);
      return s.phase === 'unmask' ? s : null;
    });
    assert.equal(s4.confirmations?.length, 3);
    const proof = { domain: task.eip712, confirmations: s4.confirmations!, required: secureRoundThresholds(task.secure!, 3).survivors };
    // Owner 0 reveals a wrong key for the first dealer: that share alone is refused, with the reason recorded.
    const body = ps[0]!.reveal(s4.survivors!, s1.adverts, s1.threshold!, proof);
    body.keys[0] = { ...body.keys[0]!, key: `0x${'22'.repeat(32)}` };
    const out = await api.postSecure(task.id, round.round, 'reveal', await signSecAggMessage(owners[0]!, task.eip712, 'reveal', body));
    assert.equal(out.refusedShares?.length, 1);
    for (const [i, p] of ps.entries()) if (i > 0) await api.postSecure(task.id, round.round, 'reveal', await signSecAggMessage(owners[i]!, task.eip712, 'reveal', p.reveal(s4.survivors!, s1.adverts, s1.threshold!, proof)));
    const end = await waitFor('round aggregated', async () => {
      const s = await admin.getRound(task.id, round.round);
      return s.state === 'aggregated' || s.state === 'committed' || s.state === 'failed' ? s : null;
    }, 30_000);
    // Three shares per secret, threshold 2 of 3: one refused share leaves enough, and the zero inputs sum to no change.
    assert.notEqual(end.state, 'failed', end.failureReason ?? '');
    const bad = end.rejections.find((r) => r.code === 'BAD_SHARE');
    assert.ok(bad && bad.client === ps[0]!.address && /does not open/.test(bad.reason), JSON.stringify(end.rejections));
    const before = decodeCheckpoint((await admin.getCheckpoint(round.baseHash)).bytes).weights;
    const after = decodeCheckpoint((await admin.getCheckpoint(end.checkpointHash!)).bytes).weights;
    assert.deepEqual(after, before, 'zero inputs unmask to a zero mean: the checkpoint weights are unchanged');
    await uploader.close();
  });

  test('distributed DP: clients add Skellam noise the sum carries, and the manifest records epsilon', async () => {
    const dpTask = await admin.createTask({
      name: 'secure iris dp',
      model: 'iris-mlp',
      training: { localEpochs: 1, batchSize: 8, learningRate: 0.05, optimizer: 'sgd' },
      secure: { clipNorm: 1, range: 0.5, maxClients: 4, phaseSeconds: 3, dp: { noiseMultiplier: 2, delta: 1e-5 } },
      seed: 8,
    });
    const dpClients = clients.slice(0, 3);
    for (const c of dpClients) await c.register(dpTask.id);
    const iris = loadIris();
    const parts = iidPartition(iris.n, 3, 4);
    const round = await admin.openRound(dpTask.id, { durationSeconds: 60, minClients: 3, maxClients: 3 });
    await Promise.all(dpClients.map((c, i) => c.contribute({ task: dpTask, round, data: subset(iris, parts[i]!) })));
    const end = await waitFor('dp round aggregated', async () => {
      const s = await admin.getRound(dpTask.id, round.round);
      if (s.state === 'failed') throw new Error(`round failed: ${s.failureReason}`);
      return s.state === 'aggregated' || s.state === 'committed' ? s : null;
    }, 60_000);
    const m = (await admin.getManifest(end.manifestHash!)).manifest;
    assert.deepEqual(verifyManifest(m), []);
    assert.equal(m.privacy?.accountant, 'skellam-rdp');
    assert.equal(m.privacy?.epsilon, secureRoundsEpsilon(m.secure!.config, m.secure!.scale, dpTask.params, 1));
    assert.ok(m.privacy!.epsilon > 0 && m.privacy!.epsilon < 20, `epsilon ${m.privacy?.epsilon}`);
    // The noise is really in the checkpoint: the mean moves by about z * clip / survivors per
    // coordinate (here 2 * 1 / 3), far more than three clipped deltas of norm <= 1 could.
    const a = decodeCheckpoint((await admin.getCheckpoint(round.baseHash)).bytes).weights;
    const b = decodeCheckpoint((await admin.getCheckpoint(end.checkpointHash!)).bytes).weights;
    let sq = 0;
    for (let i = 0; i < a.length; i++) sq += ((b[i] as number) - (a[i] as number)) ** 2;
    const std = Math.sqrt(sq / a.length);
    assert.ok(std > 0.4 && std < 1.0, `per-coordinate change ${std}, expected about ${(2 / 3).toFixed(3)}`);
  });

  test('SecAgg+ ring of degree 2: each client masks against two neighbours, one drops, the audit rebuilds the round', async () => {
    const ringTask = await admin.createTask({
      name: 'secure iris ring',
      model: 'iris-mlp',
      training: { localEpochs: 3, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' },
      rewards: { perRound: '1000', budget: '1000' },
      secure: { clipNorm: 5, range: 0.5, maxClients: 8, phaseSeconds: 3, neighbours: 2 },
      seed: 9,
    });
    assert.equal(ringTask.secure?.neighbours, 2);
    for (const c of clients) await c.register(ringTask.id);
    const iris = loadIris();
    const parts = iidPartition(iris.n, 5, 5);
    const round = await admin.openRound(ringTask.id, { durationSeconds: 60, minClients: 3, maxClients: 5 });
    const results = await Promise.all(clients.map((c, i) => c.contribute({ task: ringTask, round, data: subset(iris, parts[i]!), leaveAfterUpload: i === 4 })));
    const end = await waitFor('ring round committed', async () => {
      const s = await admin.getRound(ringTask.id, round.round);
      if (s.state === 'failed') throw new Error(`round failed: ${s.failureReason}`);
      return s.state === 'committed' ? s : null;
    }, 60_000);
    assert.equal(end.accepted, 5);
    assert.deepEqual(new Set(end.acceptedUpdates.map((u) => u.updateHash)), new Set(results.map((r) => r.updateHash)));
    const m = (await admin.getManifest(end.manifestHash!)).manifest;
    assert.deepEqual(verifyManifest(m), []);
    // Shares are counted among the dealer and its two neighbours (2 of 3); the round still needed 4 survivors of 5.
    assert.equal(m.secure!.threshold, 2);
    assert.equal(m.secure!.config.neighbours, 2);
    const tr = SecureTranscript.parse(await (await fetch(new URL(`/v1/transcripts/${m.secure!.transcriptHash}`, env.c.url))).json());
    assert.equal(tr.neighbours, 2);
    for (const b of tr.bundles) assert.equal(b.shares.length, 3, `${b.client} deals to itself and two neighbours`);
    assert.equal(tr.reveals.length, 4);
    for (const r of tr.reveals) assert.equal(r.keys.length, 3, `${r.client} opens shares of itself and its two neighbours only`);
    await expectAudited(chain, env.c.url, ringTask.id);
  });

  test('what a secure task cannot have is refused with a clear reason', async () => {
    const base = { name: 'x', model: 'iris-mlp', secure: { clipNorm: 1, range: 0.5 } };
    const refused = async (body: object, pattern: RegExp) =>
      assert.rejects(admin.createTask(body), (e: unknown) => e instanceof CoordinatorError && e.status === 400 && e.code === 'SECURE_UNSUPPORTED' && pattern.test(e.message));
    await refused({ ...base, strategy: { name: 'median' } }, /needs the individual updates/);
    await refused({ ...base, strategy: { name: 'krum' } }, /needs the individual updates/);
    await refused({ ...base, strategy: { name: 'fedavg', dp: { clipNorm: 1, noiseMultiplier: 1, delta: 1e-5 } } }, /could subtract it/);
    await refused({ ...base, strategy: { name: 'fedavg', clip: { maxNorm: 1 } } }, /secure.clipNorm/);
    await refused({ ...base, secure: { clipNorm: 1, range: 1, bits: 8, maxClients: 200 } }, /cannot hold/);
    const ok = await admin.createTask({ ...base, strategy: { name: 'fedadam' } });
    await assert.rejects(admin.openRound(ok.id, { minClients: 2 }), (e: unknown) => e instanceof CoordinatorError && e.status === 400 && /at least 3 clients/.test(e.message));
    await assert.rejects(admin.openRound(ok.id, { minClients: 3, maxClients: 50 }), (e: unknown) => e instanceof CoordinatorError && e.status === 400 && /secure.maxClients/.test(e.message));
  });

  test('private and secure at once: anonymous members mask their updates, prove membership, and the audit passes', async () => {
    await buildCircuits({ quiet: true });
    const ptask = await admin.createTask({
      name: 'private secure iris',
      model: 'iris-mlp',
      training: { localEpochs: 3, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' },
      privacy: 'private',
      secure: { clipNorm: 5, range: 0.5, maxClients: 4, phaseSeconds: 10 },
      rewards: { perRound: '600', budget: '600' },
      seed: 9,
    });
    const members = [0, 1, 2].map((i) => identityFromSeed(`secure-member-${i}`));
    await admin.admitMembers(ptask.id, members.map((m) => m.commitment));
    const owners = members.map((identity, i) => new FederatedClient({ coordinatorUrl: env.c.url, identity, upload: i === 0 ? { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix } : { mode: 'http' }, pollMs: 50 }));
    const iris = loadIris();
    const parts = iidPartition(iris.n, 3, 5);
    const round = await admin.openRound(ptask.id, { durationSeconds: 120, minClients: 3, maxClients: 3 });
    const results = await Promise.all(owners.map((c, i) => c.contribute({ task: ptask, round, data: subset(iris, parts[i]!) })));
    const end = await waitFor('private secure round committed', async () => {
      const st = await admin.getRound(ptask.id, round.round);
      if (st.state === 'failed') throw new Error(`round failed: ${st.failureReason}`);
      return st.state === 'committed' ? st : null;
    }, 120_000);
    // Named by nullifiers only, never an address; each masked upload carried its membership proof.
    assert.deepEqual(end.acceptedUpdates.map((u) => u.client).sort(), results.map((r) => r.nullifier).sort());
    for (const u of end.acceptedUpdates) assert.ok(u.proof && /^0x[0-9a-f]{64}$/.test(u.client));
    const m = (await admin.getManifest(end.manifestHash!)).manifest;
    assert.deepEqual(verifyManifest(m), []);
    assert.ok(m.private && m.secure);
    const transcript = SecureTranscript.parse(JSON.parse(new TextDecoder().decode(new Uint8Array(await (await fetch(new URL(`/v1/transcripts/${m.secure.transcriptHash}`, env.c.url))).arrayBuffer()))));
    for (const a of transcript.adverts) assert.ok(a.proof && a.signer && a.client.length === 66, 'each advert: a nullifier, a fresh signer and a membership proof');
    await Promise.all(owners.map((c) => c.close()));
    await expectAudited(chain, env.c.url, ptask.id);
  });
});

