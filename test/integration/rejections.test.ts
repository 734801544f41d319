import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import {
  blobKey,
  decodeCheckpoint,
  encodeFloat32,
  initialWeights,
  Round,
  Task,
  type ModelSpec,
  type Rejection,
} from '../../protocol/index.ts';
import type { RejectionCode } from '../../coordinator/errors.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { adminPost, buildUpdate, decisionOf, getRound, IRIS_PARAMS, openRoundFor, queueProducer, randomDelta, uploadHttp, type BuiltUpdate, type QueueProducer, type UpdateTarget } from '../helpers/updates.ts';

// Every way the update worker (coordinator/use-cases/process-update.ts) refuses an update, through
// the real queue and worker: each refusal is recorded with its code, counts nothing, is never
// retried, and leaves the worker able to accept good updates and aggregate exactly those.

const MAX_NORM = 1;
const MAX_SAMPLES = 1000;

/** A delta of exactly the given L2 norm. */
function deltaWithNorm(seed: number, norm: number): Float32Array {
  const d = randomDelta(IRIS_PARAMS, seed, 1);
  let s = 0;
  for (const v of d) s += v * v;
  const k = norm / Math.sqrt(s);
  return d.map((v) => v * k);
}

describe('update worker rejections', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let producer: QueueProducer;
  let task: Task;
  let round: Round;
  let target: UpdateTarget;
  // alice and carol are registered and end up contributing; bob is registered; mallory is not; forger signs for others.
  const alice = Wallet.createRandom();
  const bob = Wallet.createRandom();
  const carol = Wallet.createRandom();
  const mallory = Wallet.createRandom();
  const forger = Wallet.createRandom();
  /** Every job the worker refused, with the code it should carry. */
  const refused: { jobId: string; code: RejectionCode }[] = [];
  /** The updates that should end up in the aggregate. */
  const good: { client: string; delta: Float32Array; numSamples: number; jobId: string }[] = [];
  let seed = 100;

  before(async () => {
    env = await startTestCoordinator();
    producer = queueProducer(env.config.redisUrl, env.config.prefix);
    // Two clients close the round: alice's first update and carol's final one.
    ({ task, round, target } = await openRoundFor(
      env.c.url,
      { name: 'rejections', model: 'iris-mlp', seed: 3, limits: { maxNorm: MAX_NORM, minSamples: 1, maxSamples: MAX_SAMPLES } },
      [alice, bob, carol],
      { durationSeconds: 120, minClients: 2, maxClients: 2 },
    ));
  });
  after(async () => {
    await producer.close();
    await env.cleanup();
  });

  async function viaHttp(u: BuiltUpdate): Promise<string> {
    const res = await uploadHttp(env.c.url, u);
    assert.equal(res.status, 202, `HTTP upload: ${JSON.stringify(res.body)}`);
    return res.body.jobId as string;
  }

  /** Waits for the worker's verdict on a job and checks it is the given refusal, recorded on the round and counting nothing. */
  async function expectRejected(jobId: string, code: RejectionCode, before: Round, client?: string): Promise<Rejection> {
    const d = await decisionOf(env.c.url, before.task, before.round, jobId);
    assert.equal(d.status, 'rejected', `job ${jobId} should be refused with ${code}, got ${JSON.stringify(d.status === 'accepted' ? d.update : d)}`);
    if (d.status !== 'rejected') throw new Error('unreachable');
    assert.equal(d.rejection.code, code, d.rejection.reason);
    assert.ok(d.rejection.reason.length > 0);
    if (client) assert.equal(d.rejection.client, client.toLowerCase());
    // Counts from a fresh read once the verdict is in (see the snapshot test below for why).
    const after = await getRound(env.c.url, before.task, before.round);
    assert.equal(after.accepted, before.accepted, 'a refusal counts nothing');
    assert.equal(after.acceptedUpdates.length, before.acceptedUpdates.length);
    assert.equal(after.rejected, before.rejected + 1, 'the refusal is counted once');
    assert.equal(after.rejections.length, before.rejections.length + 1);
    assert.equal(after.state, 'open');
    refused.push({ jobId, code });
    return d.rejection;
  }

  /** A refusal of a job that names no existing round lands in the stray rejections. */
  async function expectStray(jobId: string, code: RejectionCode): Promise<Rejection> {
    const r = await waitFor('stray rejection', async () => (await env.c.ctx.rounds.strayRejections()).find((x) => x.jobId === jobId), 10_000, 20);
    assert.equal(r.code, code, r.reason);
    refused.push({ jobId, code });
    return r;
  }

  const now = () => getRound(env.c.url, task.id, round.round);

  test('BAD_SIGNATURE: an update naming a registered client but signed by another key', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, signer: forger, delta: randomDelta(IRIS_PARAMS, seed++) });
    const r = await expectRejected(await viaHttp(u), 'BAD_SIGNATURE', before, alice.address);
    assert.match(r.reason, new RegExp(forger.address.toLowerCase()));
  });

  test('BAD_SIGNATURE: a well-formed but unrecoverable signature (queue path)', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    const jobId = await producer.upload({ ...u, job: { ...u.job, signature: `0x${'00'.repeat(65)}` } });
    await expectRejected(jobId, 'BAD_SIGNATURE', before, alice.address);
  });

  test('BAD_SIGNATURE: a signature over different metadata (numSamples inflated after signing)', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++), numSamples: 10 });
    const jobId = await producer.upload({ ...u, job: { ...u.job, numSamples: 999 } });
    await expectRejected(jobId, 'BAD_SIGNATURE', before, alice.address);
  });

  test('UNKNOWN_CLIENT: a correctly signed update from a wallet that never registered', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: mallory, delta: randomDelta(IRIS_PARAMS, seed++) });
    // Through the queue the worker refuses it; over HTTP it is turned away before anything is stored.
    await expectRejected(await producer.upload(u), 'UNKNOWN_CLIENT', before, mallory.address);
    const http = await uploadHttp(env.c.url, u);
    assert.equal(http.status, 403);
  });

  test("WRONG_BASE: an update signed on top of a checkpoint that is not the round's base", async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, baseHash: `0x${'ab'.repeat(32)}`, delta: randomDelta(IRIS_PARAMS, seed++) });
    await expectRejected(await viaHttp(u), 'WRONG_BASE', before, alice.address);
  });

  test('BAD_SAMPLES: numSamples below the minimum or above the maximum', async () => {
    for (const numSamples of [0, MAX_SAMPLES + 1]) {
      const before = await now();
      const u = await buildUpdate({ target, wallet: alice, numSamples, delta: randomDelta(IRIS_PARAMS, seed++) });
      await expectRejected(await viaHttp(u), 'BAD_SAMPLES', before, alice.address);
    }
  });

  test('NON_FINITE: a delta holding NaN, +Infinity or -Infinity', async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const before = await now();
      const delta = randomDelta(IRIS_PARAMS, seed++);
      delta[17] = bad;
      const u = await buildUpdate({ target, wallet: alice, delta });
      const r = await expectRejected(await viaHttp(u), 'NON_FINITE', before, alice.address);
      assert.match(r.reason, /\b17\b/);
    }
  });

  test('NORM_TOO_LARGE: a delta whose L2 norm exceeds limits.maxNorm', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, delta: deltaWithNorm(seed++, MAX_NORM * 1.5) });
    await expectRejected(await viaHttp(u), 'NORM_TOO_LARGE', before, alice.address);
  });

  test('BAD_LENGTH: a blob shorter than the model (queue path)', async () => {
    for (const bytes of [encodeFloat32(randomDelta(IRIS_PARAMS - 1, seed++)), new Uint8Array(IRIS_PARAMS * 4 - 3).fill(7)]) {
      const before = await now();
      const u = await buildUpdate({ target, wallet: alice, delta: bytes });
      await expectRejected(await producer.upload(u), 'BAD_LENGTH', before, alice.address);
    }
  });

  test('OVERSIZED: a blob larger than the model written under the blob key (queue path)', async () => {
    const before = await now();
    const bytes = encodeFloat32(randomDelta(IRIS_PARAMS * 3, seed++));
    const u = await buildUpdate({ target, wallet: alice, delta: bytes });
    await expectRejected(await producer.upload(u), 'OVERSIZED', before, alice.address);
  });

  test('HASH_MISMATCH: blob bytes differ from the signed update hash (queue path)', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    await producer.putBlob(u.client, u.updateHash, encodeFloat32(randomDelta(IRIS_PARAMS, seed++)));
    await expectRejected(await producer.addJob(u.job), 'HASH_MISMATCH', before, alice.address);
  });

  test('BLOB_MISSING: a job whose blob was never written (queue path)', async () => {
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    assert.equal(await producer.redis.exists(blobKey(env.config.prefix, u.client, u.updateHash)), 0);
    await expectRejected(await producer.addJob(u.job), 'BLOB_MISSING', before, alice.address);
  });

  test('UNKNOWN_ROUND: a job for a round that does not exist is a stray rejection', async () => {
    const before = await now();
    const u = await buildUpdate({ target: { ...target, round: 99 }, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    const r = await expectStray(await producer.upload(u), 'UNKNOWN_ROUND');
    assert.equal(r.client, alice.address.toLowerCase());
    const after = await now();
    assert.deepEqual([after.accepted, after.rejected], [before.accepted, before.rejected]);
  });

  test('UNKNOWN_TASK: a job for a task that does not exist is a stray rejection', async () => {
    const u = await buildUpdate({ target: { ...target, task: 999_999 }, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    await expectStray(await producer.upload(u), 'UNKNOWN_TASK');
  });

  test('BAD_PAYLOAD: garbage job data is a stray rejection, and the worker keeps working', async () => {
    const before = await now();
    const garbage: unknown[] = [
      'not an update',
      { foo: 1 },
      [1, 2, 3],
      { task: task.id, round: round.round, client: alice.address, numSamples: 'ten' },
    ];
    for (const g of garbage) await expectStray(await producer.addJob(g), 'BAD_PAYLOAD');
    // A valid job with one unknown field: the job schema is strict.
    const u = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    await producer.putBlob(u.client, u.updateHash, u.bytes);
    const extraFieldJob = await producer.addJob({ ...u.job, extra: true });
    const extra = await waitFor('decision', async () => {
      const onRound = (await now()).rejections.find((x) => x.jobId === extraFieldJob);
      return onRound ?? (await env.c.ctx.rounds.strayRejections()).find((x) => x.jobId === extraFieldJob);
    }, 10_000, 20);
    assert.equal(extra.code, 'BAD_PAYLOAD');
    refused.push({ jobId: extraFieldJob, code: 'BAD_PAYLOAD' });
    const mid = await now();
    assert.equal(mid.accepted, before.accepted);

    // The worker survived all of that: alice's real update, near the norm limit, is accepted.
    const delta = deltaWithNorm(seed++, MAX_NORM * 0.9);
    const ok = await buildUpdate({ target, wallet: alice, delta, numSamples: 30 });
    const jobId = await viaHttp(ok);
    const d = await decisionOf(env.c.url, task.id, round.round, jobId);
    assert.equal(d.status, 'accepted', JSON.stringify(d));
    assert.equal((await now()).accepted, before.accepted + 1);
    good.push({ client: ok.client, delta, numSamples: 30, jobId });
  });

  test('BAD_PAYLOAD: a payload that names an existing round is recorded on that round', async () => {
    const before = await now();
    const jobId = await producer.addJob({ task: task.id, round: round.round });
    await expectRejected(jobId, 'BAD_PAYLOAD', before);
  });

  test('DUPLICATE: a second update by a client that already has one accepted in the round', async () => {
    assert.equal(good.length, 1, 'needs the accepted update of the previous test');
    const before = await now();
    const u = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, seed++) });
    await expectRejected(await viaHttp(u), 'DUPLICATE', before, alice.address);
    // Same bytes as the accepted one, through the queue: still a duplicate.
    const again = await buildUpdate({ target, wallet: alice, delta: good[0]!.delta, numSamples: 30 });
    await expectRejected(await producer.upload(again), 'DUPLICATE', await now(), alice.address);
    const after = await now();
    assert.equal(after.acceptedUpdates.find((a) => a.client === alice.address.toLowerCase())?.jobId, good[0]!.jobId, "alice's first update stays the accepted one");
  });

  test('refused jobs are failed after one attempt, never retried', async () => {
    assert.ok(refused.length >= 20, `${refused.length} refusals collected`);
    for (const { jobId, code } of refused) {
      // The refusal is recorded inside the processor; BullMQ moves the job to failed just after.
      const job = await waitFor(`job ${jobId} (${code}) failed`, async () => {
        const j = await producer.getJob(jobId);
        return j && (await j.getState()) === 'failed' ? j : null;
      });
      assert.equal(job.attemptsMade, 1, `job ${jobId} (${code}) ran once`);
      assert.ok((job.opts.attempts ?? 1) > 1, 'retries were allowed in principle');
      assert.match(job.failedReason, new RegExp(`^${code}`));
    }
    // Give a (wrong) retry the time it would need, then check again.
    await new Promise((r) => setTimeout(r, 600));
    for (const { jobId } of refused) assert.equal((await producer.getJob(jobId))!.attemptsMade, 1);
    const r = await now();
    assert.equal(r.rejected, r.rejections.length, 'each refusal recorded once');
  });

  test('a refused delta is not kept: no work blobs are left behind', async () => {
    const work = await producer.redis.keys(`${env.config.prefix}:work:*`);
    assert.deepEqual(work, []);
  });

  test('ROUND_CLOSED: an update to a round that already aggregated, or failed', async () => {
    const { task: t2, target: t1 } = await openRoundFor(env.c.url, { name: 'closed rounds', model: 'iris-mlp', seed: 4 }, [bob, carol], { durationSeconds: 60, minClients: 1, maxClients: 1 });
    const first = await buildUpdate({ target: t1, wallet: bob, delta: randomDelta(IRIS_PARAMS, seed++) });
    assert.equal((await decisionOf(env.c.url, t2.id, 1, await viaHttp(first))).status, 'accepted');
    const aggregated = await waitFor('round 1 aggregated', async () => {
      const s = await getRound(env.c.url, t2.id, 1);
      return s.state === 'aggregated' ? s : null;
    }, 10_000);
    const late = await buildUpdate({ target: t1, wallet: carol, delta: randomDelta(IRIS_PARAMS, seed++) });
    const d1 = await decisionOf(env.c.url, t2.id, 1, await viaHttp(late));
    assert.equal(d1.status, 'rejected');
    if (d1.status === 'rejected') {
      assert.equal(d1.rejection.code, 'ROUND_CLOSED');
      assert.match(d1.rejection.reason, /aggregated/);
    }
    assert.equal(d1.round.accepted, 1);
    assert.equal(d1.round.state, 'aggregated');
    assert.equal(d1.round.checkpointHash, aggregated.checkpointHash, 'the aggregate is untouched');

    // Round 2 fails for lack of quorum; an update arriving after that is refused too.
    const r2 = Round.parse(await adminPost(env.c.url, `/v1/tasks/${t2.id}/rounds`, { durationSeconds: 0.3, minClients: 1, maxClients: 5 }));
    assert.equal(r2.baseHash, aggregated.checkpointHash);
    await waitFor('round 2 failed', async () => (await getRound(env.c.url, t2.id, 2)).state === 'failed', 10_000);
    const tooLate = await buildUpdate({ target: { ...t1, round: 2, baseHash: r2.baseHash }, wallet: carol, delta: randomDelta(IRIS_PARAMS, seed++) });
    const d2 = await decisionOf(env.c.url, t2.id, 2, await producer.upload(tooLate));
    assert.equal(d2.status, 'rejected');
    if (d2.status === 'rejected') assert.equal(d2.rejection.code, 'ROUND_CLOSED');
    assert.equal(d2.round.accepted, 0);
    assert.equal(d2.round.state, 'failed');
  });

  test('after all of that, a good update is accepted and the round aggregates exactly the good updates', async () => {
    assert.equal(good.length, 1);
    const before = await now();
    assert.equal(before.state, 'open');
    assert.equal(before.accepted, 1);
    const delta = randomDelta(IRIS_PARAMS, seed++, 0.05);
    const u = await buildUpdate({ target, wallet: carol, delta, numSamples: 90 });
    const jobId = await producer.upload(u);
    const d = await decisionOf(env.c.url, task.id, round.round, jobId);
    assert.equal(d.status, 'accepted', JSON.stringify(d));
    good.push({ client: u.client, delta, numSamples: 90, jobId });

    // maxClients = 2 is reached: the scheduler aggregates the round.
    const done = await waitFor('round aggregated', async () => {
      const s = await now();
      return s.state === 'aggregated' || s.state === 'failed' ? s : null;
    }, 10_000);
    assert.equal(done.state, 'aggregated', done.failureReason ?? '');
    assert.equal(done.accepted, 2);
    assert.deepEqual(done.acceptedUpdates.map((a) => a.jobId).sort(), good.map((g) => g.jobId).sort());
    assert.equal(done.rejected, done.rejections.length);
    assert.equal(done.received, done.accepted + done.rejected);
    const codes = new Set(done.rejections.map((r) => r.code));
    for (const c of ['BAD_SIGNATURE', 'UNKNOWN_CLIENT', 'WRONG_BASE', 'BAD_SAMPLES', 'NON_FINITE', 'NORM_TOO_LARGE', 'BAD_LENGTH', 'OVERSIZED', 'HASH_MISMATCH', 'BLOB_MISSING', 'DUPLICATE', 'BAD_PAYLOAD']) {
      assert.ok(codes.has(c), `round records ${c}`);
    }

    // The checkpoint is base + the sample-weighted mean of exactly the two good deltas (FedAvg,
    // folded in ascending client order in float32, as the coordinator does).
    const res = await fetch(`${env.c.url}/v1/checkpoints/${done.checkpointHash}`);
    assert.equal(res.status, 200);
    const cp = decodeCheckpoint(new Uint8Array(await res.arrayBuffer()));
    assert.equal(cp.parentHash, round.baseHash);
    const base = initialWeights(task.modelSpec as ModelSpec, task.seed);
    const ordered = [...good].sort((a, b) => a.client.localeCompare(b.client));
    const acc = new Float32Array(IRIS_PARAMS);
    let total = 0;
    for (const g of ordered) {
      for (let i = 0; i < IRIS_PARAMS; i++) acc[i] = acc[i]! + g.numSamples * g.delta[i]!;
      total += g.numSamples;
    }
    for (let i = 0; i < IRIS_PARAMS; i++) acc[i] = base[i]! + acc[i]! / total;
    for (let i = 0; i < IRIS_PARAMS; i++) assert.ok(Math.abs(cp.weights[i]! - acc[i]!) <= 1e-6, `weight ${i}: ${cp.weights[i]} vs ${acc[i]}`);
    const after = Task.parse(await (await fetch(`${env.c.url}/v1/tasks/${task.id}`)).json());
    assert.equal(after.checkpointHash, done.checkpointHash);
  });

  test('the round status is a consistent snapshot while updates are being judged', async () => {
    // GET /v1/tasks/:task/rounds/:round must never show a counter that disagrees with its own lists
    // (e.g. a rejection listed but not yet counted): dashboards and auditors read it as one state.
    const clients = Array.from({ length: 8 }, () => Wallet.createRandom());
    const { task: t3, round: r, target: tgt } = await openRoundFor(env.c.url, { name: 'snapshots', model: 'iris-mlp' }, clients, { durationSeconds: 60, minClients: 1, maxClients: 100 });
    const jobs: string[] = [];
    for (const [i, w] of clients.entries()) {
      // One good update per client, and a few blob-less (BLOB_MISSING) ones in between.
      jobs.push(await producer.upload(await buildUpdate({ target: tgt, wallet: w, delta: randomDelta(IRIS_PARAMS, 500 + i) })));
      for (let k = 0; k < 5; k++) jobs.push(await producer.addJob((await buildUpdate({ target: tgt, wallet: w, delta: randomDelta(IRIS_PARAMS, 600 + 10 * i + k) })).job));
    }
    const torn: string[] = [];
    let snapshots = 0;
    let done = false;
    // Several pollers at once, so that some reads overlap the worker's writes.
    const poll = async () => {
      while (!done) {
        const s = await getRound(env.c.url, t3.id, r.round);
        snapshots++;
        if (s.accepted !== s.acceptedUpdates.length || s.rejected !== s.rejections.length) {
          torn.push(`accepted ${s.accepted} vs ${s.acceptedUpdates.length} listed, rejected ${s.rejected} vs ${s.rejections.length} listed`);
        }
        if (s.acceptedUpdates.length + s.rejections.length === jobs.length) done = true;
        if (snapshots > 20_000) throw new Error('updates were not all judged');
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await Promise.all([poll(), poll(), poll()]);
    assert.deepEqual(torn, [], `${torn.length} of ${snapshots} snapshots were torn`);
    const final = await getRound(env.c.url, t3.id, r.round);
    assert.equal(final.accepted, clients.length);
    assert.equal(final.rejected, clients.length * 5);
    // A blob-less job is judged DUPLICATE when its client's good update got in first, else BLOB_MISSING.
    assert.ok(final.rejections.every((x) => x.code === 'BLOB_MISSING' || x.code === 'DUPLICATE'));
  });
});
