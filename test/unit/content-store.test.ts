import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak256 } from 'ethers';
import { fsContentStore } from '../../coordinator/store/fs-content-store.ts';
import { AppError } from '../../coordinator/errors.ts';
import type { Hex32 } from '../../protocol/index.ts';

// The file store behind checkpoints, archived updates and manifests: keccak256 names, atomic
// writes, and reads that refuse bytes which do not match their name.

const bytesOf = (...v: number[]) => new Uint8Array(v);

function withStore(fn: (store: ReturnType<typeof fsContentStore>, dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-store-'));
    try {
      await fn(fsContentStore(dir), dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Every file under dir, relative. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('fsContentStore', () => {
  test(
    'put names bytes by keccak256, is idempotent, and get returns them',
    withStore(async (store, dir) => {
      const b = bytesOf(1, 2, 3, 4);
      const h = await store.put('updates', b);
      assert.equal(h, keccak256(b));
      assert.equal(await store.put('updates', b), h);
      assert.deepEqual(await store.get('updates', h), b);
      assert.equal(await store.has('updates', h), true);
      // Kinds are separate namespaces; nothing else (no temp file) is left behind.
      assert.equal(await store.get('checkpoints', h), null);
      assert.deepEqual(files(dir), [join('updates', h.slice(2, 4), h)]);
    }),
  );

  test(
    'putHashed files bytes under the given hash without hashing them; get still checks them',
    withStore(async (store) => {
      const b = bytesOf(9, 8, 7);
      const h = keccak256(b) as Hex32;
      await store.putHashed('updates', b, h);
      assert.deepEqual(await store.get('updates', h), b);
      // A caller that passes the wrong hash gets its mistake back on read, never other bytes.
      const wrong = keccak256(bytesOf(0)) as Hex32;
      await store.putHashed('updates', b, wrong);
      await assert.rejects(store.get('updates', wrong), (e) => e instanceof AppError && e.code === 'STORE_CORRUPT');
    }),
  );

  test(
    'a file changed on disk is refused on read, and malformed hashes never become paths',
    withStore(async (store, dir) => {
      const h = await store.put('manifests', bytesOf(5, 5));
      writeFileSync(join(dir, 'manifests', h.slice(2, 4), h), bytesOf(5, 6));
      await assert.rejects(store.get('manifests', h), (e) => e instanceof AppError && e.code === 'STORE_CORRUPT');
      for (const bad of ['../../etc/passwd', '0x12', h.toUpperCase()]) {
        await assert.rejects(store.get('manifests', bad), (e) => e instanceof AppError && e.code === 'BAD_HASH');
      }
    }),
  );
});
