import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { keccak256 } from 'ethers';
import { AppError } from '../../coordinator/errors.ts';
import { s3ContentStore } from '../../coordinator/store/s3-content-store.ts';
import type { Hex32 } from '../../protocol/index.ts';
import { startS3Server, useS3Credentials, type S3TestServer } from '../helpers/s3-server.ts';

// The S3 backend of the content store against a real S3 protocol server (s3rver): the file store's
// promises (keccak256 names, idempotent writes, reads that refuse altered bytes) over a bucket, and a
// typed error when the bucket cannot be used. Credentials come from the environment, through the
// AWS SDK's default chain, as in service.

const bytesOf = (...v: number[]) => new Uint8Array(v);
const isCode = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('s3ContentStore', () => {
  let s3: S3TestServer;
  let restoreEnv: () => void;
  before(async () => {
    s3 = await startS3Server();
    restoreEnv = useS3Credentials(s3);
  });
  after(async () => {
    restoreEnv?.();
    await s3?.stop();
  });

  const storeIn = (bucket: string, prefix = 'fl') => s3ContentStore({ bucket, prefix, endpoint: s3.endpoint, forcePathStyle: true });
  const keysIn = async (bucket: string) => ((await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key).sort();

  test('put names bytes by keccak256 under <prefix>/<kind>/<hh>/<hash>; get and has find them', async () => {
    const bucket = await s3.createBucket();
    const store = storeIn(bucket, 'fed/one');
    const b = bytesOf(1, 2, 3, 4);
    const h = await store.put('updates', b);
    assert.equal(h, keccak256(b));
    assert.deepEqual(await store.get('updates', h), b);
    assert.equal(await store.has('updates', h), true);
    // Kinds are separate namespaces; the key mirrors DATA_DIR's path under the prefix.
    assert.equal(await store.get('checkpoints', h), null);
    assert.equal(await store.has('checkpoints', h), false);
    assert.deepEqual(await keysIn(bucket), [`fed/one/updates/${h.slice(2, 4)}/${h}`]);
    await store.probe();
  });

  test('put and putHashed are idempotent: equal bytes are uploaded once', async () => {
    const bucket = await s3.createBucket();
    const store = storeIn(bucket);
    const b = bytesOf(7, 7, 7);
    const writes = s3.writes();
    const h = await store.put('checkpoints', b);
    assert.equal(await store.put('checkpoints', b), h);
    await store.putHashed('checkpoints', b, h);
    assert.equal(s3.writes() - writes, 1, 'one PUT for three puts of the same bytes');
    assert.deepEqual(await keysIn(bucket), [`fl/checkpoints/${h.slice(2, 4)}/${h}`]);
    // A wrong hash files bytes under a name they do not have; get() hands that mistake back.
    const wrong = keccak256(bytesOf(0)) as Hex32;
    await store.putHashed('checkpoints', b, wrong);
    await assert.rejects(store.get('checkpoints', wrong), isCode('STORE_CORRUPT'));
  });

  test('bytes changed in the bucket behind the store are refused on read; malformed hashes never become keys', async () => {
    const bucket = await s3.createBucket();
    const store = storeIn(bucket);
    const h = await store.put('manifests', bytesOf(5, 5));
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `fl/manifests/${h.slice(2, 4)}/${h}`, Body: bytesOf(5, 6) }));
    await assert.rejects(store.get('manifests', h), (e) => isCode('STORE_CORRUPT')(e) && /stored manifests 0x[0-9a-f]{64} does not match its hash/.test((e as Error).message));
    for (const bad of ['../../etc/passwd', '0x12', h.toUpperCase()]) {
      await assert.rejects(store.get('manifests', bad), isCode('BAD_HASH'));
      await assert.rejects(store.has('manifests', bad), isCode('BAD_HASH'));
      await assert.rejects(store.putHashed('manifests', bytesOf(1), bad as Hex32), isCode('BAD_HASH'));
    }
  });

  test('an unreachable endpoint, a missing bucket and an unknown access key are STORE_UNAVAILABLE, naming bucket and endpoint', async () => {
    const bucket = await s3.createBucket();
    const h = keccak256(bytesOf(1)) as Hex32;

    const offline = s3ContentStore({ bucket, prefix: 'fl', endpoint: `http://127.0.0.1:${await closedPort()}`, forcePathStyle: true });
    const named = (re: RegExp) => (e: unknown) => isCode('STORE_UNAVAILABLE')(e) && (e as AppError).status === 503 && re.test((e as Error).message);
    const offlineMsg = new RegExp(`^content store s3://${bucket}/fl at http://127\\.0\\.0\\.1:\\d+: .*ECONNREFUSED`);
    await assert.rejects(offline.probe(), named(offlineMsg));
    await assert.rejects(offline.get('checkpoints', h), named(offlineMsg));
    await assert.rejects(offline.has('checkpoints', h), named(offlineMsg));
    await assert.rejects(offline.put('checkpoints', bytesOf(1)), named(offlineMsg));

    const noBucket = storeIn('fl-no-such-bucket');
    await assert.rejects(noBucket.probe(), named(/^content store s3:\/\/fl-no-such-bucket\/fl at http:\/\/127\.0\.0\.1:\d+: the bucket cannot be used: no such bucket/));
    await assert.rejects(noBucket.get('checkpoints', h), named(/NoSuchBucket/));

    const restore = useS3Credentials({ ...s3, credentialsEnv: { AWS_ACCESS_KEY_ID: 'NOT-AN-ACCOUNT', AWS_SECRET_ACCESS_KEY: 'x' } });
    try {
      const stranger = storeIn(bucket);
      await assert.rejects(stranger.probe(), named(/HTTP 403/));
      await assert.rejects(stranger.get('checkpoints', h), named(/HTTP 403 InvalidAccessKeyId/));
    } finally {
      restore();
    }
  });
});
