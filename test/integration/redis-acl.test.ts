import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Wallet } from 'ethers';
import { Redis } from 'ioredis';
import { queueUploader } from '../../client/upload/queue-uploader.ts';
import { startRedisServer } from '../../coordinator/infra/redis-server.ts';
import { uploaderAclCommand } from '../../coordinator/queue/upload-acl.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { Round, Task } from '../../protocol/index.ts';
import { isolation, silentLog, testConfig } from '../helpers/env.ts';
import { adminPost, buildUpdate, decisionOf, IRIS_PARAMS, randomDelta, registerWallet } from '../helpers/updates.ts';

// Its own redis-server: ACL users are server-wide, and the shared test Redis must stay untouched.
describe('Redis ACL for upload-only clients (docs/redis-acl.md)', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let admin: Redis;
  let coordinator: RunningCoordinator;
  let task: Task;
  let round: Round;
  const alice = Wallet.createRandom();
  const { prefix, dataDir } = isolation();
  const aclUrl = () => redis.url.replace('redis://', 'redis://alice:alice-pass-123@');

  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    const [cmd, ...args] = uploaderAclCommand('alice', 'alice-pass-123', prefix, alice.address);
    await admin.call(cmd!, ...args);
    coordinator = await startCoordinator(await testConfig({ redisUrl: redis.url, prefix, dataDir }), { log: silentLog() });
    task = Task.parse(await adminPost(coordinator.url, '/v1/tasks', { name: 'acl', model: 'iris-mlp', wire: { codec: 'float32' } }));
    assert.equal((await registerWallet(coordinator.url, task.id, alice, task.eip712)).status, 201);
    round = Round.parse(await adminPost(coordinator.url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 120, minClients: 1, maxClients: 1 }));
  });
  after(async () => {
    await coordinator?.stop();
    admin?.disconnect();
    await redis?.stop();
  });

  test('the restricted client uploads through the queue and the worker accepts its update', async () => {
    const u = await buildUpdate({ target: { task: task.id, round: round.round, baseHash: round.baseHash, domain: task.eip712 }, wallet: alice, delta: randomDelta(IRIS_PARAMS, 1) });
    const uploader = queueUploader(aclUrl(), prefix);
    try {
      const { jobId } = await uploader.upload({ ...u.job as { task: number; round: number; client: string; baseHash: string; updateHash: string; numSamples: number; signature: string } }, u.bytes);
      assert.equal((await decisionOf(coordinator.url, task.id, round.round, jobId)).status, 'accepted');
    } finally {
      await uploader.close();
    }
  });

  test('it can read nothing, touch no coordinator state, and run no admin command', async () => {
    const c = new Redis(aclUrl(), { maxRetriesPerRequest: 1 });
    try {
      const refused: [string, ...string[]][] = [
        ['get', `${prefix}:blob:${alice.address.toLowerCase()}:0x1`],
        ['set', `${prefix}:task:${task.id}`, 'x'],
        ['hset', `${prefix}:round:${task.id}:${round.round}`, 'state', 'aggregated'],
        ['set', `${prefix}:blob:0x${'cd'.repeat(20)}:0x1`, 'another client\'s blob key'],
        ['set', `other-deployment:blob:${alice.address.toLowerCase()}:0x1`, 'x'],
        // The coordinator's keys for HTTP deltas it has hashed itself: a verdict here is trusted.
        ['set', `${prefix}:checked:${alice.address.toLowerCase()}:0x1`, 'x'],
        ['set', `${prefix}:checked-verdict:${alice.address.toLowerCase()}:0x1`, '{}'],
        ['flushall'],
        ['keys', '*'],
        ['scan', '0'],
        ['config', 'get', 'requirepass'],
        ['acl', 'list'],
        ['eval', `return redis.call('set', KEYS[1], 'x')`, '1', `${prefix}:task:${task.id}`],
      ];
      for (const [cmd, ...args] of refused) {
        await assert.rejects(c.call(cmd, ...args), /NOPERM|can't run|no permissions/, `${cmd} ${args.join(' ')} was allowed`);
      }
      // What it may do: write its own blob key.
      assert.equal(await c.call('set', `${prefix}:blob:${alice.address.toLowerCase()}:0x1`, 'bytes', 'EX', '60'), 'OK');
    } finally {
      c.disconnect();
    }
  });
});
