/**
 * A standalone worker process (`npm run worker`) SIGKILLed in the middle of a job: after it moved
 * the client's blob into its own work key, before the accept. BullMQ's stalled-job check hands the
 * job to another worker once the dead one's lock lapses (WORKER_LOCK_MS), and the retry must find
 * the blob in the work key: the update is accepted exactly once, the round commits once, and the
 * audit passes.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { blobKey } from '../../protocol/index.ts';
import { decisionOf, getRound } from '../helpers/updates.ts';
import { commitsOf, expectAudited, faultSetup, openTaskRound, runCleanups, waitCommitted, type Cleanups } from './harness.ts';

describe('worker killed (SIGKILL) mid-job', () => {
  const cleanups: Cleanups = [];
  after(() => runCleanups(cleanups));

  test('the job passes to another worker and is counted once; the round commits once and audits clean', async () => {
    const LOCK = { WORKER_LOCK_MS: '2000' };
    const s = await faultSetup(cleanups, { env: { IN_PROCESS_WORKER: '0' } });
    const c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 3);
    const doomed = await s.startWorker({ ...LOCK, FAILPOINTS: 'worker.after-blob-move' });
    const first = await s.producer.upload(updates[0]!);
    await doomed.waitForLine('"failpoint":"worker.after-blob-move"');
    // Mid-job: the blob has left the client's key (only the work key holds it), nothing is counted.
    assert.equal(await s.producer.redis.exists(blobKey(s.prefix, updates[0]!.client, updates[0]!.updateHash)), 0);
    assert.equal((await getRound(c.url, task.id, round.round)).accepted, 0);
    await doomed.kill();

    await s.startWorker(LOCK);
    const rest = [];
    for (const u of updates.slice(1)) rest.push(await s.producer.upload(u));
    // The stalled job comes back (attempts are not spent on a stall) and is accepted, not BLOB_MISSING.
    const d = await decisionOf(c.url, task.id, round.round, first, 30_000);
    assert.equal(d.status, 'accepted', JSON.stringify(d.status === 'rejected' ? d.rejection : null));
    for (const id of rest) assert.equal((await decisionOf(c.url, task.id, round.round, id, 30_000)).status, 'accepted');
    const r = await waitCommitted(c.url, task.id, round.round);
    assert.equal(r.accepted, 3);
    assert.equal(r.rejected, 0);
    assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 3, 'each client counted once');
    const job = await s.producer.getJob(first);
    assert.ok(job && (await job.isCompleted()), 'the stalled job completed on the second worker');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });
});
