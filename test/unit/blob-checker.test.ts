import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256 } from 'ethers';
import { createBlobChecker } from '../../coordinator/infra/blob-checker.ts';
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
});
