import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Round, Task } from '../../protocol/index.ts';
import type { BlobChecker } from '../../coordinator/infra/blob-checker.ts';
import { startTestCoordinator } from '../helpers/env.ts';
import { buildUpdate, decisionOf, IRIS_PARAMS, openRoundFor, queueProducer, randomDelta, uploadHttp, type QueueProducer, type UpdateTarget } from '../helpers/updates.ts';

// The HTTP path hashes and measures a delta once, on receipt, and stores that verdict in a
// coordinator-only key next to the bytes; the worker takes it instead of reading and hashing the
// 4 MB again. A queue upload has no such verdict and is hashed by the worker. Both are counted here
// through the coordinator's real checker (wrapped to count its calls, not replaced).

describe('HTTP uploads are checked once', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let producer: QueueProducer;
  let task: Task;
  let round: Round;
  let target: UpdateTarget;
  let checks = 0;
  const [viaHttp, viaQueue, sneaky] = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];

  before(async () => {
    env = await startTestCoordinator();
    producer = queueProducer(env.config.redisUrl, env.config.prefix);
    const real: BlobChecker = env.c.ctx.checker;
    env.c.ctx.checker = {
      check: (bytes) => {
        checks++;
        return real.check(bytes);
      },
      close: () => real.close(),
    };
    ({ task, round, target } = await openRoundFor(env.c.url, { name: 'http-verdict', model: 'iris-mlp', seed: 5 }, [viaHttp, viaQueue, sneaky], { durationSeconds: 120, minClients: 3, maxClients: 3 }));
  });
  after(async () => {
    await producer.close();
    await env.cleanup();
  });

  test('an HTTP upload costs one check (the handler\'s); a queue upload one (the worker\'s)', async () => {
    const h = await buildUpdate({ target, wallet: viaHttp, delta: randomDelta(IRIS_PARAMS, 1) });
    const res = await uploadHttp(env.c.url, h);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const d1 = await decisionOf(env.c.url, task.id, round.round, res.body.jobId as string);
    assert.equal(d1.status, 'accepted');
    assert.equal(checks, 1, 'hashed on receipt only');
    // The worker took the verdict (and deleted it); the bytes moved on to the accepted key.
    const k = env.c.ctx.keys;
    assert.equal(await env.c.ctx.redis.exists(k.checked(viaHttp.address, h.updateHash), k.checkedVerdict(viaHttp.address, h.updateHash), k.work(res.body.jobId as string)), 0);

    const q = await buildUpdate({ target, wallet: viaQueue, delta: randomDelta(IRIS_PARAMS, 2) });
    const d2 = await decisionOf(env.c.url, task.id, round.round, await producer.upload(q));
    assert.equal(d2.status, 'accepted');
    assert.equal(checks, 2, 'the worker hashes what a queue client wrote');
  });

  test('a stranger\'s HTTP upload is refused on its headers and costs no check', async () => {
    const before = checks;
    const u = await buildUpdate({ target, wallet: Wallet.createRandom(), delta: randomDelta(IRIS_PARAMS, 5) });
    const res = await uploadHttp(env.c.url, u);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(checks, before, 'no hash for an unregistered sender');
  });

  test('a queue client\'s blob never inherits a verdict: bytes written to the client key are hashed by the worker and refused when they differ', async () => {
    // The sender's own blob key holds other bytes than the ones it signed, and the coordinator's
    // checked key for that hash is empty: the worker must hash and refuse, whatever a stale verdict says.
    const u = await buildUpdate({ target, wallet: sneaky, delta: randomDelta(IRIS_PARAMS, 3) });
    const before = checks;
    await env.c.ctx.redis.set(env.c.ctx.keys.checkedVerdict(sneaky.address, u.updateHash), JSON.stringify({ hash: u.updateHash, norm: '0.1', firstNonFinite: -1 }));
    await producer.putBlob(sneaky.address, u.updateHash, randomDeltaBytes(4));
    const d = await decisionOf(env.c.url, task.id, round.round, await producer.addJob(u.job));
    assert.equal(d.status, 'rejected');
    if (d.status === 'rejected') assert.equal(d.rejection.code, 'HASH_MISMATCH', d.rejection.reason);
    assert.equal(checks, before + 1);
  });
});

function randomDeltaBytes(seed: number): Uint8Array {
  const d = randomDelta(IRIS_PARAMS, seed);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
