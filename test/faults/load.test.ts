import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { loadProblems, runLoad } from '../../bench/load.ts';
import { deletePrefix, isolation, testRedis } from '../helpers/env.ts';

// The load check of issue 5 at test size: the same generator `npm run bench` runs with 1,000
// clients, here with 300, against the real coordinator process, real Redis and the real queue.
// Behaviour only (accounting, status codes), never wall time.
describe('load: many clients upload at once', () => {
  const { prefix, dataDir } = isolation();
  let redisUrl = '';
  after(async () => {
    if (redisUrl) await deletePrefix(redisUrl, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('300 clients over HTTP and the queue, 10% hostile: no 5xx, every upload decided, no hostile update counted', async () => {
    const redis = await testRedis();
    redisUrl = redis.url;
    const r = await runLoad({ clients: 300, httpShare: 0.5, hostileShare: 0.1, redisUrl, prefix, dataDir });
    assert.deepEqual(loadProblems(r), []);
    assert.equal(r.accepted, 270, 'every honest client is counted once');
    assert.equal(r.hostileAccepted, 0);
    assert.ok((r.rejectedByCode.BAD_SIGNATURE ?? 0) + (r.rejectedByCode.ROUND_CLOSED ?? 0) + Object.values(r.refusedByCode).reduce((a, b) => a + b, 0) === 30,
      `the 30 hostile uploads are refused with a reason: ${JSON.stringify(r)}`);
  });
});
