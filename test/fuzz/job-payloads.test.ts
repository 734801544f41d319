/**
 * Property tests (fast-check) over the update job payload, through the real BullMQ queue and the
 * real worker: any payload a client with Redis access can write is decided (failed once, never
 * retried, its rejection recorded with a reason), never counted, and never stops the worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Wallet } from 'ethers';
import { Round, Task } from '../../protocol/index.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { adminPost, buildUpdate, decisionOf, getRound, IRIS_PARAMS, queueProducer, randomDelta, registerWallet } from '../helpers/updates.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

describe('update job payloads under fuzzing', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let producer: ReturnType<typeof queueProducer>;
  let task: Task;
  let round: Round;
  const alice = Wallet.createRandom();
  before(async () => {
    env = await startTestCoordinator();
    producer = queueProducer(env.config.redisUrl, env.config.prefix);
    task = Task.parse(await adminPost(env.c.url, '/v1/tasks', { name: 'fuzz-jobs', model: 'iris-mlp', seed: 1, wire: { codec: 'float32' } }));
    assert.equal((await registerWallet(env.c.url, task.id, alice, task.eip712)).status, 201);
    round = Round.parse(await adminPost(env.c.url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 3600, minClients: 1, maxClients: 1 }));
  });
  after(async () => {
    await producer.close();
    await env.cleanup();
  });

  test('arbitrary and mutated payloads are refused once with a reason and never counted', async () => {
    const target = { task: task.id, round: round.round, baseHash: round.baseHash, domain: task.eip712 };
    // A valid update's job whose blob is in place: mutating one field must break it, never pass it.
    const valid = await buildUpdate({ target, wallet: alice, delta: randomDelta(IRIS_PARAMS, 1) });
    await producer.putBlob(valid.client, valid.updateHash, valid.bytes);
    const job = valid.job as Record<string, unknown>;
    const keys = Object.keys(job).filter((k) => k !== 'via' && k !== 'submittedAt');
    const payload = fc.oneof(
      fc.anything(),
      fc.tuple(fc.constantFrom(...keys), fc.anything()).map(([k, v]) => ({ ...job, [k]: v })),
      fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(job).filter(([x]) => x !== k))),
      fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.anything()).map(([k, v]) => ({ ...job, [k]: v })),
    );
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (data) => {
        // The one mutation that leaves the job valid (a field set to its own value) is skipped.
        if (JSON.stringify(data) === JSON.stringify(job)) return;
        const id = await producer.addJob(data);
        const done = await waitFor(`job ${id} decided`, async () => {
          const j = await producer.getJob(id);
          const state = await j?.getState();
          return state === 'failed' || state === 'completed' ? { state } : null;
        }, 15_000, 10);
        assert.equal(done.state, 'failed', `payload ${JSON.stringify(data)?.slice(0, 300)} was accepted`);
        // Read again: the job object fetched while polling may predate the failure.
        const failed = await producer.getJob(id);
        assert.equal(failed?.attemptsMade, 1, 'a refusal is never retried');
        const onRound = (await getRound(env.c.url, task.id, round.round)).rejections.find((r) => r.jobId === id);
        const stray = (await env.c.ctx.rounds.strayRejections()).find((r) => r.jobId === id);
        const rejection = onRound ?? stray;
        assert.ok(rejection, `no rejection recorded for job ${id}`);
        assert.ok(rejection.code.length > 0 && rejection.reason.length > 0);
        checked++;
      }),
      { numRuns: RUNS },
    );
    const r = await getRound(env.c.url, task.id, round.round);
    assert.equal(r.accepted, 0, 'nothing fuzzed was counted');
    assert.equal(r.state, 'open');
    assert.ok(checked > RUNS / 2);

    // The worker is still alive and the untouched valid job is accepted.
    const ok = await decisionOf(env.c.url, task.id, round.round, await producer.addJob(valid.job));
    assert.equal(ok.status, 'accepted', JSON.stringify(ok));
  });
});
