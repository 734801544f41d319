import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QueueKeys } from 'bullmq';
import keySlot from 'cluster-key-slot';
import { parseEnv } from '../../coordinator/config.ts';
import { keyNamespaceOf } from '../../coordinator/infra/redis-connection.ts';
import { redisKeys } from '../../coordinator/store/redis-keys.ts';
import { blobKey, bullPrefix, keyNamespace, UPDATE_QUEUE } from '../../protocol/index.ts';

const CLIENT = `0x${'ab'.repeat(20)}`;
const HASH = `0x${'cd'.repeat(32)}`;

/**
 * Every key one deployment writes: each entry of redisKeys (called with strings, which every
 * builder takes, so a key added there later is covered without touching this test), a client's
 * blob key, and BullMQ's keys of the update queue, a job's included.
 */
function deploymentKeys(ns: string): string[] {
  const own = Object.values(redisKeys(ns)).map((k) => (typeof k === 'string' ? k : (k as (...a: string[]) => string)('7', '8', 'keys')));
  const queue = new QueueKeys(bullPrefix(ns));
  const job = queue.toKey(UPDATE_QUEUE, '42');
  return [...own, blobKey(ns, CLIENT, HASH), ...Object.values(queue.getKeys(UPDATE_QUEUE)), job, `${job}:lock`, `${job}:logs`];
}

describe('Redis key layout', () => {
  test('on a cluster every key of one deployment hashes to the slot of its {prefix} tag', () => {
    const ns = keyNamespace('fl', true);
    assert.equal(ns, '{fl}');
    const keys = deploymentKeys(ns);
    assert.ok(keys.length > 40, `${keys.length} keys checked`);
    const slots = new Set(keys.map((k) => keySlot(k)));
    assert.deepEqual([...slots], [keySlot('fl')], 'one slot, the hash of the tag alone');
  });

  test('deployments on one cluster differ only by their tag, so they can land on different masters', () => {
    assert.notEqual(keySlot(redisKeys('{fl-a}').tasks), keySlot(redisKeys('{fl-b}').tasks));
  });

  test('a single Redis keeps the bare prefix: existing deployments keep their keys', () => {
    const ns = keyNamespace('fl', false);
    assert.equal(redisKeys(ns).task(1), 'fl:task:1');
    assert.equal(blobKey(ns, CLIENT, HASH), `fl:blob:${CLIENT}:${HASH}`);
    assert.equal(bullPrefix(ns), 'fl:bull');
    // Without a tag the keys spread over slots, which is why a cluster needs one.
    assert.ok(new Set(deploymentKeys(ns).map((k) => keySlot(k))).size > 1);
  });

  test('REDIS_CLUSTER_NODES turns the tag on; its absence leaves it off', () => {
    assert.equal(keyNamespaceOf(parseEnv({ REDIS_PREFIX: 'prod' })), 'prod');
    assert.equal(keyNamespaceOf(parseEnv({ REDIS_PREFIX: 'prod', REDIS_CLUSTER_NODES: 'redis-1:6379' })), '{prod}');
  });
});
