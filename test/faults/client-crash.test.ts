/**
 * Data owners dying mid-upload, against the coordinator process on a real chain: an HTTP upload
 * whose connection drops half-way through the body, and a queue client killed between writing its
 * blob and adding its job. Neither may count, leave the round changed, or hurt the coordinator; the
 * orphan blob carries its TTL; each client's next, whole upload is accepted; the round commits once
 * and the audit passes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { blobKey, BLOB_TTL_SECONDS } from '../../protocol/index.ts';
import { decisionOf, getRound, uploadHttp, type BuiltUpdate } from '../helpers/updates.ts';
import { commitsOf, expectAudited, faultSetup, openTaskRound, runCleanups, uploadAccepted, waitCommitted, type Cleanups } from './harness.ts';

/** Sends the headers and half the body of an HTTP upload, then drops the connection. */
function cutUpload(url: string, u: BuiltUpdate): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${url}/v1/tasks/${u.job.task}/rounds/${u.job.round}/updates`, {
      method: 'PUT',
      headers: { ...u.headers, 'content-length': String(u.bytes.byteLength) },
    });
    req.on('error', () => resolve()); // the socket we destroy
    req.write(u.bytes.subarray(0, u.bytes.byteLength >> 1), () => {
      // Let the half reach the server before the connection dies.
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
  });
}

describe('a client dying mid-upload', () => {
  const cleanups: Cleanups = [];
  after(() => runCleanups(cleanups));

  test('HTTP body cut half-way and queue client killed after its blob: nothing counted, the retries go in once', async () => {
    const s = await faultSetup(cleanups);
    const c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 2);
    const [viaHttp, viaQueue] = updates as [BuiltUpdate, BuiltUpdate];

    await cutUpload(c.url, viaHttp);
    const killed = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./die-after-blob.ts', import.meta.url)), JSON.stringify({
      redisUrl: s.redis.url, prefix: s.prefix, sender: viaQueue.client, updateHash: viaQueue.updateHash, deltaHex: Buffer.from(viaQueue.bytes).toString('hex'),
    })], { stdio: ['ignore', 'ignore', 'inherit'] });
    const signal = await new Promise<NodeJS.Signals | null>((r) => killed.once('exit', (_code, sig) => r(sig)));
    assert.equal(signal, 'SIGKILL');

    // The orphan blob is there with its TTL (it will expire on its own); no job names it.
    const ttl = await s.producer.redis.ttl(blobKey(s.prefix, viaQueue.client, viaQueue.updateHash));
    assert.ok(ttl > 0 && ttl <= BLOB_TTL_SECONDS, `orphan blob TTL ${ttl}`);
    assert.equal(await s.producer.queue.count(), 0, 'no job was added');
    // The coordinator is unharmed and the round unchanged.
    assert.equal((await fetch(`${c.url}/v1/health`)).status, 200);
    const mid = await getRound(c.url, task.id, round.round);
    assert.equal(mid.state, 'open');
    assert.equal(mid.accepted + mid.received + mid.rejected, 0, JSON.stringify(mid));

    // Both data owners retry, whole this time: each is accepted once.
    const http = await uploadHttp(c.url, viaHttp);
    assert.equal(http.status, 202, JSON.stringify(http.body));
    assert.equal((await decisionOf(c.url, task.id, round.round, http.body.jobId, 30_000)).status, 'accepted');
    await uploadAccepted(s.producer, c.url, task.id, round.round, [viaQueue], 30_000);
    const r = await waitCommitted(c.url, task.id, round.round);
    assert.equal(r.accepted, 2);
    assert.equal(r.rejected, 0);
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });
});
