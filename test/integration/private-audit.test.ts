import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, type BigNumberish } from 'ethers';
import { auditTask, CHECKS, coordinatorSource, directorySource, formatFinding, MembersListError, type AuditOptions, type AuditReport, type ContentSource } from '../../client/audit/index.ts';
import { buildCircuits } from '../../circuits/build.ts';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { decodeManifest, manifestRewardsTree, Round, Task, toBytes32, type RoundManifest } from '../../protocol/index.ts';
import { identityFromSeed, MembersTree, proveClaim, terminateZk, type Identity } from '../../protocol/zk/index.ts';
import { mined, startChain, type Chain } from '../contracts/chain.ts';
import { craftPrivateTask } from '../helpers/audit-history.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { adminPost, buildPrivateUpdate, getRound, IRIS_PARAMS, queueProducer, randomDelta, uploadHttp, type QueueProducer } from '../helpers/updates.ts';

// The auditor on a private (zero-knowledge) task: a real coordinator with a real anvil commits a
// round of three anonymous uploads with real Groth16 membership proofs, one member claims its reward
// privately (claimPrivate, real claim proof) to a fresh address, and the audit re-verifies every
// proof, rebuilds the members root from the publicly admitted commitments and checks the private
// claim. Then lies: a lying members list, and crafted private histories committed on chain (a swapped
// proof, a member admitted in secret, a manifest naming another root) must each fail one named check.
describe('fl-audit on a private task', () => {
  let chain: Chain;
  let client: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let producer: QueueProducer;
  let url: string;
  let task: Task;
  let round: Round;
  let manifest: RoundManifest;
  let claimed: { nullifier: string; recipient: string; amount: bigint };
  const identities = ['alice', 'bob', 'carol'].map((n) => identityFromSeed(`private-audit-test ${n}`)) as [Identity, Identity, Identity];
  const tree = MembersTree.of(identities.map((m) => m.commitment));
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    await buildCircuits({ quiet: true });
    chain = await startChain();
    cleanups.push(() => chain.stop());
    // Dev account 0 is the coordinator's nonce-managed signer and nobody else sends from it once the
    // coordinator runs: account 1 relays the private claim, account 2 commits the crafted histories.
    await mined(chain.d.registry.grantRole(await chain.d.registry.COORDINATOR_ROLE(), chain.addresses[2]!));
    client = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(async () => client.close());
    env = await startTestCoordinator({}, { chain: client, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    url = env.c.url;
    producer = queueProducer(env.config.redisUrl, env.config.prefix);
    cleanups.push(() => producer.close());

    task = Task.parse(await adminPost(url, '/v1/tasks', { name: 'private audited', model: 'iris-mlp', privacy: 'private', rewards: { perRound: '1000', budget: '3000' }, wire: { codec: 'float32' } }));
    await adminPost(url, `/v1/tasks/${task.id}/members`, { commitments: identities.map((m) => m.commitment.toString()) }, 200);
    const opened = Round.parse(await adminPost(url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 120, minClients: 3, maxClients: 3 }));
    assert.equal(opened.membersRoot, tree.rootHex);
    const target = { task: task.id, round: opened.round, baseHash: opened.baseHash, domain: task.eip712 };
    // 10, 20 and 40 samples: the pro-rata split of 1000 has remainders. One upload over HTTP.
    // Proved one after the other: snarkjs builds a curve (and threads) per concurrent first use, and
    // terminateZk() stops only one of them.
    const updates = [];
    for (const [i, identity] of identities.entries()) updates.push(await buildPrivateUpdate({ target, identity, tree, delta: randomDelta(IRIS_PARAMS, 40 + i), numSamples: 10 * 2 ** i }));
    const viaHttp = await uploadHttp(url, updates[0]!);
    assert.equal(viaHttp.status, 202, JSON.stringify(viaHttp.body));
    await producer.upload(updates[1]!);
    await producer.upload(updates[2]!);
    round = await waitFor(
      'round committed',
      async () => {
        const r = await getRound(url, task.id, opened.round);
        return r.state === 'committed' ? r : null;
      },
      60_000,
    );
    manifest = decodeManifest(new Uint8Array(await (await fetch(`${url}/v1/manifests/${round.manifestHash}`)).arrayBuffer()));
    assert.deepEqual(manifest.private, { membersRoot: tree.rootHex, members: 3 });

    // Alice claims privately: a relayer (dev account 1) sends it, the reward goes to a fresh address.
    const recipient = Wallet.createRandom().address;
    const { proof, nullifier } = await proveClaim({ secret: identities[0].secret, task: task.id, round: round.round, recipient });
    const leaf = manifestRewardsTree(manifest).proofFor(toBytes32(nullifier));
    assert.ok(leaf && leaf.amount > 0n, 'alice is paid in the round');
    const relayed = chain.d.distributor.connect(chain.signers[1]!);
    await mined(relayed.claimPrivate(task.id, round.round, nullifier, leaf.amount, recipient, leaf.proof, proof as unknown as [BigNumberish, BigNumberish, BigNumberish, BigNumberish, BigNumberish, BigNumberish, BigNumberish, BigNumberish]));
    assert.equal(await chain.d.token.balanceOf(recipient), leaf.amount);
    claimed = { nullifier: toBytes32(nullifier), recipient: recipient.toLowerCase(), amount: leaf.amount };
  });
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup failed:', e));
    await terminateZk();
  });

  const options = (source: ContentSource, over: Partial<AuditOptions> = {}): AuditOptions => ({
    rpcUrl: chain.anvil.rpcUrl,
    registry: chain.d.addresses.registry,
    task: task.id,
    source,
    fromBlock: chain.d.blockNumber,
    ...over,
  });
  const findings = (r: AuditReport) => r.findings.map((f) => `${f.round}:${f.check}`);
  const explain = (r: AuditReport) => r.findings.map(formatFinding).join('\n') || '(no findings)';
  const check = (r: AuditReport, name: string, roundNo = 1) => r.checks.find((c) => c.round === roundNo && c.check === name);
  /** A source that serves `inner`'s content but its own members list. */
  const withMembers = (inner: ContentSource, members: (task: number) => Promise<string[] | null>): ContentSource => ({
    description: inner.description,
    probe: () => inner.probe(),
    fetch: (kind, hash) => inner.fetch(kind, hash),
    members,
  });

  test('an honest private round passes: proofs re-verified, members root rebuilt, the private claim checked', async () => {
    const r = await auditTask(options(coordinatorSource(url), { reaggregate: true }));
    assert.equal(r.pass, true, explain(r));
    assert.equal(r.rounds.length, 1);
    const row = r.rounds[0]!;
    assert.equal(row.participationRoot, tree.rootHex);
    assert.deepEqual(row.columns, { checkpoint: 'ok', parent: 'ok', manifest: 'ok', participation: 'ok', proofs: 'ok', rewards: 'ok', claims: 'ok', reaggregated: 'ok' });
    assert.equal(row.accepted, 3);
    assert.equal(row.proofs?.checked, 3);
    assert.equal(row.proofs?.verified, 3);
    assert.match(check(r, CHECKS.uploadProofs)!.detail, new RegExp(`^3 membership proof\\(s\\) verified against ${tree.rootHex} in \\d+ ms$`));
    assert.match(check(r, CHECKS.participationRoot)!.detail, /members root 0x[0-9a-f]{64}, 3 member\(s\)/);
    assert.match(check(r, CHECKS.participationMembers)!.detail, /the first 3 of 3 publicly admitted member\(s\) rebuild the participation root/);
    assert.deepEqual(row.claims, []);
    assert.deepEqual(
      row.privateClaims?.map((c) => ({ nullifier: c.nullifier, recipient: c.recipient, amount: BigInt(c.amount) })),
      [claimed],
    );
    assert.match(check(r, CHECKS.claimsTotal)!.detail, new RegExp(`^1 claim\\(s\\) \\(1 private\\), ${claimed.amount} of 1000 claimed$`));
    assert.match(check(r, CHECKS.claimsEntitlement)!.detail, /each exactly the manifest's entitlement/);
    assert.ok(r.checks.every((c) => c.ok && !c.skipped), explain(r));

    // From the coordinator's directory: no members list there, so the rebuild is not run, and that
    // neither fails the audit nor counts as a finding.
    const dir = await auditTask(options(directorySource(env.config.dataDir)));
    assert.equal(dir.pass, true, explain(dir));
    assert.deepEqual(dir.findings, []);
    const members = check(dir, CHECKS.participationMembers)!;
    assert.equal(members.skipped, true);
    assert.equal(members.ok, true);
    assert.match(members.detail, /^not checked: the content source cannot list the task's members/);
    assert.equal(dir.rounds[0]!.columns.participation, 'skip');
    assert.equal(check(dir, CHECKS.uploadProofs)?.ok, true);
  });

  test('a members list that does not rebuild the committed root fails participation.members', async () => {
    const listed = identities.map((m) => m.commitment.toString());
    // The same members in another order: another tree, another root.
    const reordered = await auditTask(options(withMembers(coordinatorSource(url), async () => [listed[0]!, listed[2]!, listed[1]!])));
    assert.deepEqual(findings(reordered), [`1:${CHECKS.participationMembers}`], explain(reordered));
    assert.match(reordered.findings[0]!.detail, new RegExp(`^the first 3 publicly admitted member\\(s\\) rebuild root 0x[0-9a-f]{64}, the chain commits ${tree.rootHex}: the round's members are not the admitted ones$`));
    assert.equal(reordered.rounds[0]!.columns.participation, 'FAIL');

    const short = await auditTask(options(withMembers(coordinatorSource(url), async () => listed.slice(0, 2))));
    assert.deepEqual(findings(short), [`1:${CHECKS.participationMembers}`], explain(short));
    assert.match(short.findings[0]!.detail, /the round was opened on 3 member\(s\), but the source lists only 2 admitted/);

    const refused = await auditTask(options(withMembers(coordinatorSource(url), async () => {
      throw new MembersListError('GET /v1/tasks/1/members answered HTTP 404');
    })));
    assert.deepEqual(findings(refused), [`1:${CHECKS.participationMembers}`], explain(refused));
    assert.match(refused.findings[0]!.detail, /^the members list is unavailable: GET .* HTTP 404/);
  });

  test('crafted private histories: a swapped proof, a member admitted in secret, a manifest naming another root, no root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-private-audit-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    // Committed from dev account 2 (account 0 is the running coordinator's), under task ids far from
    // the coordinator's own (they share the registry).
    const crafter: Chain = { ...chain, d: { ...chain.d, registry: chain.d.registry.connect(chain.signers[2]!) } };
    const honest = await craftPrivateTask(crafter, dir, 901, 'none');
    const swapped = await craftPrivateTask(crafter, dir, 902, 'swapped-proof');
    const hidden = await craftPrivateTask(crafter, dir, 903, 'hidden-member');
    const otherRoot = await craftPrivateTask(crafter, dir, 904, 'manifest-root');
    const zero = await craftPrivateTask(crafter, dir, 905, 'zero-root');
    const lists = new Map<number, string[]>([[901, honest.members], [902, swapped.members], [903, hidden.members], [904, otherRoot.members], [905, zero.members]]);
    const source = withMembers(directorySource(dir), async (t) => lists.get(t) ?? null);
    const audit = (t: number, s: ContentSource = source) => auditTask(options(s, { task: t, reaggregate: true }));

    const ok = await audit(901);
    assert.equal(ok.pass, true, explain(ok));
    assert.equal(check(ok, CHECKS.participationMembers)?.ok, true);

    // A valid proof, but of another entry: it binds the other nullifier and update.
    const bad = await audit(902);
    assert.deepEqual(findings(bad), [`1:${CHECKS.uploadProofs}`], explain(bad));
    assert.match(bad.findings[0]!.detail, /^1 of 2 proof\(s\) verified in \d+ ms; the proof of 0x[0-9a-f]{64} \(update 0x[0-9a-f]{64}, 10 samples\) does not verify against root 0x[0-9a-f]{64}, task 902, round 1$/);
    assert.deepEqual(bad.rounds[0]!.proofs && { checked: bad.rounds[0]!.proofs.checked, verified: bad.rounds[0]!.proofs.verified }, { checked: 2, verified: 1 });
    assert.equal(bad.rounds[0]!.columns.proofs, 'FAIL');

    // Chain, manifest and proofs agree; only the published members list gives the secret member away.
    const secret = await audit(903);
    assert.deepEqual(findings(secret), [`1:${CHECKS.participationMembers}`], explain(secret));
    assert.match(secret.findings[0]!.detail, /the round's members are not the admitted ones/);
    // Without a members list it cannot be seen: the rebuild is reported as not run.
    const blind = await audit(903, directorySource(dir));
    assert.equal(blind.pass, true, explain(blind));
    assert.equal(check(blind, CHECKS.participationMembers)?.skipped, true);

    const root = await audit(904);
    assert.deepEqual(findings(root), [`1:${CHECKS.participationRoot}`], explain(root));
    assert.match(root.findings[0]!.detail, new RegExp(`^members root mismatch: manifest says 0x[0-9a-f]{64}, chain's participation root is ${otherRoot.participationRoot}$`));

    // A private manifest committed without a participation root: nothing to check the proofs against.
    const none = await audit(905);
    assert.deepEqual(findings(none), [`1:${CHECKS.participationRoot}`], explain(none));
    assert.match(none.findings[0]!.detail, /^private round \(members root 0x[0-9a-f]{64} in the manifest\) but the chain commits a zero participation root$/);
    assert.equal(check(none, CHECKS.uploadProofs)?.skipped, true);
    assert.equal(check(none, CHECKS.uploadProofs)?.ok, false);
    assert.equal(none.pass, false);
  });

  test('the fl-audit CLI verifies the private round and exits', async () => {
    const res = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['bin/fl-audit.js', '--rpc', chain.anvil.rpcUrl, '--registry', chain.d.addresses.registry, '--task', String(task.id), '--from-block', String(chain.d.blockNumber), '--coordinator', url],
        { cwd: process.cwd(), timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 99) : 0, stdout, stderr }),
      );
    });
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.match(res.stdout, /round\s+checkpoint\s+parent\s+manifest\s+participation\s+proofs\s+rewards\s+claims\s+reaggregated/);
    assert.match(res.stdout, /\n1\s+ok\s+ok\s+ok\s+ok\s+ok\s+ok\s+ok\s+-\s+1000\s+\d+ \(1\)/);
    assert.equal(res.stdout.trimEnd().split('\n').at(-1), `audit: task=${task.id} rounds=1 pass findings=0`);
  });
});
