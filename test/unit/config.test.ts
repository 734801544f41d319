import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnv } from '../../coordinator/config.ts';

describe('coordinator environment', () => {
  test('defaults: worker lock 30 s, no failpoints armed', () => {
    const c = parseEnv({});
    assert.equal(c.workerLockMs, 30_000);
    assert.deepEqual(c.failpoints, []);
  });

  test('FAILPOINTS takes known names and refuses an unknown one by name', () => {
    assert.deepEqual(parseEnv({ FAILPOINTS: 'worker.after-blob-move, close.after-archive' }).failpoints, ['worker.after-blob-move', 'close.after-archive']);
    assert.throws(() => parseEnv({ FAILPOINTS: 'worker.after-blob-mov' }), /invalid environment: FAILPOINTS/);
  });

  test('every bad variable is named in one message', () => {
    assert.throws(() => parseEnv({ PORT: 'eighty', WORKER_LOCK_MS: '5', ADMIN_TOKEN: 'short' }), (e: Error) => ['PORT', 'WORKER_LOCK_MS', 'ADMIN_TOKEN'].every((v) => e.message.includes(v)));
  });

  test('the content store: fs by default; STORE=s3 takes a bucket and refuses to start without one', () => {
    assert.deepEqual(parseEnv({}).store, { kind: 'fs' });
    assert.deepEqual(parseEnv({ STORE: 's3', S3_BUCKET: 'fl-checkpoints' }).store, { kind: 's3', bucket: 'fl-checkpoints', prefix: 'fl', region: 'us-east-1', forcePathStyle: false });
    assert.deepEqual(
      parseEnv({ STORE: 's3', S3_BUCKET: 'fl-checkpoints', S3_PREFIX: '/prod/fl/', S3_ENDPOINT: 'http://minio:9000', S3_REGION: 'eu-west-1', S3_FORCE_PATH_STYLE: '1' }).store,
      { kind: 's3', bucket: 'fl-checkpoints', prefix: 'prod/fl', endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: true },
    );
    assert.throws(() => parseEnv({ STORE: 's3' }), /invalid environment: S3_BUCKET: STORE=s3 needs S3_BUCKET/);
    // Named together with the other bad variables, not after they are fixed.
    assert.throws(() => parseEnv({ STORE: 's3', PORT: 'eighty' }), (e: Error) => /PORT/.test(e.message) && /STORE=s3 needs S3_BUCKET/.test(e.message));
    assert.throws(
      () => parseEnv({ STORE: 's3', S3_BUCKET: 'Not_A_Bucket', S3_PREFIX: 'a/../b', S3_ENDPOINT: 'minio:9000' }),
      (e: Error) => ['S3_BUCKET', 'S3_PREFIX', 'S3_ENDPOINT'].every((v) => e.message.includes(`${v}:`)),
    );
  });

  test('REDIS_CLUSTER_NODES: host:port list with credentials for every node; bad entries and stray credentials are named', () => {
    const c = parseEnv({ REDIS_CLUSTER_NODES: ' redis-1:7000, 10.0.0.5:7001,[::1]:7002 ', REDIS_USERNAME: 'fl', REDIS_PASSWORD: 'secret' });
    assert.deepEqual(c.redisCluster, { nodes: [{ host: 'redis-1', port: 7000 }, { host: '10.0.0.5', port: 7001 }, { host: '::1', port: 7002 }], username: 'fl', password: 'secret' });
    assert.equal(parseEnv({}).redisCluster, undefined, 'a single Redis by default');
    assert.throws(() => parseEnv({ REDIS_CLUSTER_NODES: 'redis-1' }), /REDIS_CLUSTER_NODES.*'redis-1' is not host:port/);
    assert.throws(() => parseEnv({ REDIS_CLUSTER_NODES: 'redis-1:7000,redis-2:99999' }), /'redis-2:99999' is not host:port/);
    assert.throws(() => parseEnv({ REDIS_CLUSTER_NODES: ' , ' }), /REDIS_CLUSTER_NODES: list at least one cluster node/);
    assert.throws(() => parseEnv({ REDIS_PASSWORD: 'secret' }), /REDIS_PASSWORD: REDIS_PASSWORD is for REDIS_CLUSTER_NODES; a single Redis takes its credentials in REDIS_URL/);
  });
});
