import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditTask, CHECKS, directorySource, formatFinding, type AuditReport } from '../../client/audit/index.ts';
import { CoordinatorApi, CoordinatorError } from '../../client/coordinator-api.ts';
import { subset } from '../../client/data/dataset.ts';
import { loadIris } from '../../client/data/iris.ts';
import { trainLocal } from '../../client/tf/trainer.ts';
import { buildManifest, decodeCheckpoint, decodeManifest, encodeManifest, Prng, verifyManifest, type Round, type RoundManifest, type Task } from '../../protocol/index.ts';
import { fsContentStore } from '../../coordinator/store/fs-content-store.ts';
import { encodeValidationSet } from '../../protocol/scoring/validation-set.ts';
import { mined, startChain, type Chain } from '../contracts/chain.ts';
import { commitRound, fundTask } from '../helpers/audit-history.ts';
import { ADMIN, startTestCoordinator, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';

// Validation-gain rewards end to end, with real parts: a test coordinator (real Redis, BullMQ
// worker, scheduler) scores two rounds of real TensorFlow.js iris updates from three honest data
// owners (with 60, 24 and 9 samples) and four freeloaders, on a validation set committed in the
// initial checkpoint; the rounds are committed on anvil and fl-audit --reaggregate re-scores them.
describe('validation-gain contribution scores', () => {
  let chain: Chain;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let task: Task;
  const rounds: Round[] = [];
  const manifests: RoundManifest[] = [];
  const names = new Map<string, string>();
  const temp: string[] = [];

  before(async () => {
    chain = await startChain();
    env = await startTestCoordinator();
    const admin = new CoordinatorApi(env.c.url, ADMIN);
    const iris = loadIris();
    const order = new Prng(7).shuffle(Array.from({ length: iris.n }, (_, i) => i));
    const val = subset(iris, order.slice(0, 45));
    const put = await admin.putValidationSet(encodeValidationSet({ x: val.x, y: val.y, n: val.n, features: 4, classes: 3 }));
    assert.equal(put.samples, 45);
    task = await admin.createTask({ name: 'scored', model: 'iris-mlp', rewards: { perRound: '1000000', scoring: 'validation-gain', validation: put.hash }, seed: 2 });
    assert.equal(decodeCheckpoint((await admin.getCheckpoint(task.genesisHash)).bytes).validationHash, put.hash, 'the initial checkpoint commits the validation set');

    const ctx = env.c.ctx;
    const honest = [60, 24, 9];
    const pool = order.slice(45);
    const shards = [pool.slice(0, 60), pool.slice(60, 84), pool.slice(84, 93)];
    const owners = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((s) => makeOwner(ctx, task, s)));
    ['honest60', 'honest24', 'honest9', 'zero', 'noise', 'copy', 'stale-or-scaled'].forEach((n, i) => names.set(owners[i]!.address, n));
    let base = decodeCheckpoint((await admin.getCheckpoint(task.genesisHash)).bytes).weights;
    let previous: Float32Array | null = null;
    const rng = new Prng(11);
    for (let r = 1; r <= 2; r++) {
      const round = await admin.openRound(task.id, { durationSeconds: 120, minClients: 7, maxClients: 7 });
      const deltas: Float32Array[] = [];
      for (const [i, n] of honest.entries()) {
        const res = await trainLocal({ spec: task.modelSpec, baseWeights: base, data: subset(iris, shards[i]!), training: { localEpochs: 5, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, seed: r * 10 + i });
        deltas.push(res.delta);
        await queueUpload(env.config.redisUrl, env.config.prefix, await owners[i]!.update(r, round.baseHash, n, 0, res.delta));
      }
      const first = deltas[0]!;
      const norm = Math.hypot(...first);
      const noise = Float32Array.from(first, () => rng.normal());
      const noiseNorm = Math.hypot(...noise);
      const freeloads = [
        new Float32Array(first.length),
        noise.map((v) => (v / noiseNorm) * norm),
        // Round 1: a near-exact copy; round 2: the very same bytes (one update hash for two clients).
        r === 1 ? first.map((v) => v * (1 + 0.01 * rng.normal())) : first.slice(),
        // Round 1: a scaled-down copy of another client's delta; round 2: the best client's delta of round 1.
        r === 1 ? deltas[1]!.map((v) => v * 0.3) : (previous as Float32Array),
      ];
      // Each freeloader declares the most samples of anyone.
      for (const [j, d] of freeloads.entries()) await queueUpload(env.config.redisUrl, env.config.prefix, await owners[3 + j]!.update(r, round.baseHash, 60, 0, d));
      previous = first;
      const done = await waitFor('round aggregated', async () => {
        const s = await admin.getRound(task.id, r);
        return s.state === 'aggregated' || s.state === 'failed' ? s : null;
      }, 60_000);
      assert.equal(done.state, 'aggregated', done.failureReason ?? '');
      rounds.push(done);
      manifests.push(decodeManifest((await ctx.store.get('manifests', done.manifestHash!))!));
      base = decodeCheckpoint((await admin.getCheckpoint(done.checkpointHash!)).bytes).weights;
    }
    fromBlock = chain.d.blockNumber;
    await mined(chain.d.registry.createTask(task.id, task.genesisHash));
    await fundTask(chain, task.id, 2_000_000n);
    for (const r of rounds) await commitRound(chain, task.id, r, `${env.c.url}/v1/checkpoints/${r.checkpointHash}`);
  });
  let fromBlock = 0;

  after(async () => {
    for (const d of temp) rmSync(d, { recursive: true, force: true });
    await env?.cleanup();
    await chain?.stop();
  });

  const audit = (dataDir: string) =>
    auditTask({ rpcUrl: chain.anvil.rpcUrl, registry: chain.d.addresses.registry, task: task.id, source: directorySource(dataDir), reaggregate: true, fromBlock });
  const explain = (r: AuditReport) => r.findings.map(formatFinding).join('\n') || '(no findings)';
  const share = (m: RoundManifest, name: string) => {
    const e = m.entries.find((x) => x.status === 'accepted' && names.get(x.client as string) === name)!;
    return Number(e.reward) / Number(m.allocated);
  };

  test('freeloaders earn nothing; the data owner with the most useful data earns the most', () => {
    for (const m of manifests) {
      const honest = ['honest60', 'honest24', 'honest9'].map((n) => share(m, n));
      const median = [...honest].sort((a, b) => a - b)[1]!;
      for (const f of ['zero', 'noise', 'copy', 'stale-or-scaled']) assert.ok(share(m, f) <= 0.05 * median, `round ${m.round}: ${f} earned ${share(m, f)}, honest median ${median}`);
      assert.ok(m.contribution, 'the manifest carries its contribution block');
      const copies = m.contribution.entries.filter((e) => e.copyOf).map((e) => names.get(e.client));
      assert.deepEqual(copies.sort(), ['copy', 'stale-or-scaled'], `round ${m.round}: copies found`);
    }
    const total = (name: string) => manifests.reduce((s, m) => s + share(m, name), 0);
    assert.ok(total('honest60') > total('honest9'), `60 samples earned ${total('honest60')}, 9 samples ${total('honest9')}`);
  });

  test('the audit re-scores every round bit for bit from the chain, the store and the validation set', async () => {
    const r = await audit(env.config.dataDir);
    assert.equal(r.pass, true, explain(r));
    const scored = r.checks.filter((c) => c.check === CHECKS.reaggregateScores);
    assert.deepEqual(scored.map((c) => [c.round, c.ok]), [[1, true], [2, true]]);
  });

  test('a lying manifest (a leave-one-out loss raised, score, payout and root made to match) fails reaggregate.scores naming the update', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-scores-'));
    temp.push(dir);
    cpSync(env.config.dataDir, dir, { recursive: true });
    const m = manifests[1]!;
    const victim = m.contribution!.entries.find((e) => e.looLoss !== null)!;
    const block = { ...m.contribution!, entries: m.contribution!.entries.map((e) => (e === victim ? { ...e, looLoss: (e.looLoss as number) + 0.5 } : e)) };
    // A manifest that is consistent in itself: built by the honest builder from the lying block.
    const lied = buildManifest({
      task: m.task,
      round: m.round,
      baseHash: m.baseHash,
      checkpointHash: m.checkpointHash,
      strategy: m.strategy,
      scoringRule: m.scoring.rule,
      reward: BigInt(m.reward),
      accepted: m.entries.filter((e) => e.status === 'accepted').map((e) => ({ client: e.client as string, updateHash: e.updateHash as string, numSamples: e.numSamples })),
      rejected: [],
      contribution: block,
      ...(m.wire ? { wire: m.wire } : {}),
    });
    assert.deepEqual(verifyManifest(lied), [], 'the lie is consistent: only re-scoring can see it');
    assert.notEqual(lied.rewardsRoot, m.rewardsRoot);
    const manifestHash = await fsContentStore(dir).put('manifests', encodeManifest(lied));
    // On a chain of its own: the honest round 1, then the lying round 2.
    const other = await startChain();
    try {
      const from = other.d.blockNumber;
      await mined(other.d.registry.createTask(task.id, task.genesisHash));
      await fundTask(other, task.id, 2_000_000n);
      await commitRound(other, task.id, rounds[0]!, 'r1');
      await commitRound(other, task.id, { ...rounds[1]!, manifestHash, rewardsRoot: lied.rewardsRoot, reward: lied.allocated }, 'r2');
      const r = await auditTask({ rpcUrl: other.anvil.rpcUrl, registry: other.d.addresses.registry, task: task.id, source: directorySource(dir), reaggregate: true, fromBlock: from });
      assert.deepEqual(r.findings.map((f) => `${f.round}:${f.check}`), [`2:${CHECKS.reaggregateScores}`], explain(r));
      assert.match(r.findings[0]!.detail, new RegExp(`update ${victim.updateHash} of 0x[0-9a-f]{40}: leave-one-out loss ${victim.looLoss! + 0.5}, recomputed ${victim.looLoss}`));
    } finally {
      await other.stop();
    }
    // And a score changed without its block is a manifest finding on its own.
    const scoreLie = { ...m, entries: m.entries.map((e) => (e.updateHash === victim.updateHash ? { ...e, score: String(BigInt(e.score) + 5n) } : e)) };
    assert.ok(verifyManifest(scoreLie).some((p) => p.code === 'SCORE_MISMATCH' && p.entry === m.entries.findIndex((e) => e.updateHash === victim.updateHash)));
  });

  test('a validation set changed in the store fails reaggregate.scores of every round', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-scores-'));
    temp.push(dir);
    cpSync(env.config.dataDir, dir, { recursive: true });
    const vPath = join(dir, 'validation', task.rewards.validation!.slice(2, 4), task.rewards.validation!);
    const b = readFileSync(vPath);
    b[40] = (b[40] as number) ^ 0x01;
    writeFileSync(vPath, b);
    const r = await audit(dir);
    assert.equal(r.pass, false);
    assert.deepEqual(r.findings.map((f) => `${f.round}:${f.check}`), [`1:${CHECKS.reaggregateScores}`, `2:${CHECKS.reaggregateScores}`], explain(r));
    assert.match(r.findings[0]!.detail, /validation set hash mismatch/);
  });

  test('a validation-gain task needs a stored validation set that fits the model, and no secure mode', async () => {
    const admin = new CoordinatorApi(env.c.url, ADMIN);
    const refused = async (body: object, code: string, re: RegExp) => {
      await assert.rejects(admin.createTask({ name: 'x', model: 'iris-mlp', ...body }), (e: unknown) => e instanceof CoordinatorError && e.code === code && re.test(e.message));
    };
    await refused({ rewards: { scoring: 'validation-gain' } }, 'VALIDATION_FAILED', /needs the hash of a validation set/);
    await refused({ rewards: { scoring: 'validation-gain', validation: `0x${'ab'.repeat(32)}` } }, 'UNKNOWN_VALIDATION_SET', /no validation set/);
    const mnistShaped = await admin.putValidationSet(encodeValidationSet({ x: new Float32Array(784 * 2), y: Uint8Array.from([1, 2]), n: 2, features: 784, classes: 10 }));
    await refused({ rewards: { scoring: 'validation-gain', validation: mnistShaped.hash } }, 'VALIDATION_FAILED', /784 features and 10 classes; the model takes 4 and has 3/);
    await refused({ rewards: { scoring: 'validation-gain', validation: task.rewards.validation }, secure: { clipNorm: 1, range: 0.5 } }, 'SECURE_UNSUPPORTED', /declared, bounded samples/);
    await assert.rejects(admin.putValidationSet(new TextEncoder().encode('not a set')), (e: unknown) => e instanceof CoordinatorError && e.code === 'BAD_VALIDATION_SET');
  });
});
