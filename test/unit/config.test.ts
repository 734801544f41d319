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
});
