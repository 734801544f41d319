import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { keccak256 } from 'ethers';
import { Redis } from 'ioredis';
import { BlobMissingError, createBlobChecker } from '../../coordinator/infra/blob-checker.ts';
import { bodyPool } from '../../coordinator/http/raw-body.ts';
import { encodeFloat32, l2Norm } from '../../protocol/index.ts';

// The worker hashes and measures every delta on checker threads; the threaded and inline paths
// must agree exactly, whatever view of memory they are handed.
describe('blob checker', () => {
  const threaded = createBlobChecker(2);
  const inline = createBlobChecker(0);
  after(async () => {
    await threaded.close();
    await inline.close();
  });

  const sample = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.1);

  test('threaded and inline verdicts equal ethers keccak256 and the float64 norm', async () => {
    for (const n of [1, 7, 1000, 250_000]) {
      const values = sample(n, n);
      const bytes = encodeFloat32(values);
      const want = { hash: keccak256(bytes), norm: l2Norm(values), firstNonFinite: -1 };
      assert.deepEqual(await inline.check(Uint8Array.prototype.slice.call(bytes)), want);
      assert.deepEqual(await threaded.check(Uint8Array.prototype.slice.call(bytes)), want);
    }
  });

  test('NaN and Infinity give a non-finite norm and the index of the first bad value', async () => {
    const values = sample(100, 1);
    values[42] = Number.POSITIVE_INFINITY;
    values[77] = Number.NaN;
    for (const c of [inline, threaded]) {
      const v = await c.check(Uint8Array.prototype.slice.call(encodeFloat32(values)));
      assert.ok(!Number.isFinite(v.norm));
      assert.equal(v.firstNonFinite, 42);
    }
  });

  test("views into someone else's memory are copied, not taken: the owner's bytes stay intact", async () => {
    const values = sample(64, 3);
    const pool = Buffer.alloc(256 * 4 + 3);
    Buffer.from(encodeFloat32(values)).copy(pool, 3);
    const view = pool.subarray(3, 3 + 256); // unaligned, and not the whole buffer
    const before = Buffer.from(pool);
    const v = await threaded.check(view);
    assert.equal(v.hash, keccak256(view));
    assert.ok(pool.equals(before), 'the pool buffer is untouched');
    assert.equal(pool.buffer.byteLength > 0, true, 'and still usable');
  });

  test('many checks in flight all resolve to their own bytes', async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => encodeFloat32(sample(5000, i)));
    const hashes = inputs.map((b) => keccak256(b));
    const verdicts = await Promise.all(inputs.map((b) => threaded.check(Uint8Array.prototype.slice.call(b))));
    assert.deepEqual(verdicts.map((v) => v.hash), hashes);
  });

  test('a lent view comes back with its bytes, whether moved, copied or shared', async () => {
    const values = sample(3000, 9);
    const bytes = encodeFloat32(values);
    const want = keccak256(bytes);
    for (const c of [inline, threaded]) {
      // A whole ArrayBuffer moves to the thread and back.
      const own = Uint8Array.prototype.slice.call(bytes);
      const moved = await c.check({ lend: own });
      assert.equal(moved.hash, want);
      assert.deepEqual(moved.bytes, bytes, 'the same bytes come back');
      // A view into a larger buffer is copied: the lender's view is handed back as it was.
      const big = new Uint8Array(bytes.length + 8);
      big.set(bytes, 8);
      const view = big.subarray(8);
      const copied = await c.check({ lend: view });
      assert.equal(copied.hash, want);
      assert.equal(copied.bytes, view);
      // Shared memory is read in place and stays usable by its owner.
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
      shared.set(bytes);
      const inPlace = await c.check({ lend: shared });
      assert.equal(inPlace.hash, want);
      assert.equal(inPlace.bytes, shared);
      assert.deepEqual(shared, bytes);
    }
  });

  test('a Redis key is read by the checker itself; a missing key is a BlobMissingError', async () => {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = new Redis(url);
    const withRedis = [createBlobChecker(2, { client: redis, target: { kind: 'single', url } }), createBlobChecker(0, { client: redis, target: { kind: 'single', url } })];
    const key = `test:blob-checker:${randomUUID()}`;
    try {
      const bytes = encodeFloat32(sample(250_000, 4));
      await redis.set(key, Buffer.from(bytes));
      for (const c of withRedis) {
        const v = await c.check({ redisKey: key });
        assert.equal(v.hash, keccak256(bytes));
        await assert.rejects(c.check({ redisKey: `${key}:gone` }), (e: unknown) => e instanceof BlobMissingError && e.key === `${key}:gone`);
      }
      await assert.rejects(threaded.check({ redisKey: key }), /no Redis/, 'a checker made without Redis says so');
    } finally {
      await redis.del(key);
      for (const c of withRedis) await c.close();
      redis.disconnect();
    }
  });
});

describe('request body pool', () => {
  test('gives back buffers of the same size only, up to its limit', () => {
    const pool = bodyPool(2, 1024);
    const a = pool.take(100);
    assert.ok(a.buffer instanceof SharedArrayBuffer);
    pool.give(a);
    assert.equal(pool.take(100), a, 'a returned buffer is reused');
    assert.notEqual(pool.take(100), a, 'and taken only once');
    pool.give(a);
    assert.notEqual(pool.take(200), a, 'another size gets its own');
    assert.equal(pool.take(100), a);
    const plain = new Uint8Array(100);
    pool.give(a.subarray(1));
    pool.give(plain);
    const next = pool.take(100);
    assert.ok(next !== plain && next.byteLength === 100 && next.byteOffset === 0 && next.buffer instanceof SharedArrayBuffer, 'views and unshared memory are not pooled');
    const big = pool.take(2048);
    pool.give(big);
    assert.notEqual(pool.take(2048), big, 'nothing above the size limit is kept');
  });
});
