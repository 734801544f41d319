/**
 * Several machines' worth of processes on one federation: two coordinator replicas (`npm start`) and
 * two standalone workers (`npm run worker`), each with its own DATA_DIR, sharing one Redis prefix,
 * one chain and one bucket of a real S3 server (STORE=s3). Five data owners upload through both
 * replicas and the queue; one replica and one worker (frozen in the middle of a job) are SIGKILLed
 * mid-round. The round must commit once, every update counted once, and fl-audit --reaggregate must
 * pass reading only the bucket and the chain. Run twice: on the session's Redis, and on a three-master
 * Redis Cluster the test starts (redis-server --cluster-enabled yes, redis-cli --cluster create).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../../coordinator/infra/redis-server.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { startTestCluster } from '../helpers/redis-cluster.ts';
import { queueUploader } from '../../client/upload/queue-uploader.ts';
import type { SignedUpdate } from '../../client/upload/uploader.ts';
import { decisionOf, getRound, uploadHttp, type BuiltUpdate } from '../helpers/updates.ts';
import { commitsOf, faultSetup, openTaskRound, runCleanups, waitCommitted, type Cleanups } from './harness.ts';

const flAudit = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['bin/fl-audit.js', ...args], { cwd: join(import.meta.dirname, '..', '..'), timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 99) : 0, stdout, stderr }));
  });

/** The scenario, on the single Redis of the session or on a three-master Redis Cluster of the test's own. */
async function replicasScenario(cleanups: Cleanups, redisMode: 'single' | 'cluster') {
  const s3 = await startS3Server();
  cleanups.push(() => s3.stop());
  const bucket = await s3.createBucket();
  const cluster = redisMode === 'cluster' ? await startTestCluster(3) : null;
  if (cluster) cleanups.push(() => cluster.stop());
  // With REDIS_CLUSTER_NODES every process connects to the cluster (REDIS_URL is then ignored).
  const redisEnv: Record<string, string> = cluster ? { REDIS_CLUSTER_NODES: cluster.nodesList } : {};
  const store = { STORE: 's3', S3_BUCKET: bucket, S3_PREFIX: 'fed', S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: '1', ...s3.credentialsEnv, ...redisEnv };
  // Each process its own DATA_DIR, as on its own machine: nothing is shared but Redis, chain and bucket.
  const dirs = Array.from({ length: 4 }, (_, i) => mkdtempSync(join(tmpdir(), `fl-replica-${i}-`)));
  cleanups.push(async () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const LOCK = { WORKER_LOCK_MS: '2000' };
  const s = await faultSetup(cleanups, { env: { IN_PROCESS_WORKER: '0', ...store } });
  // Queue uploads go where the coordinators look: the cluster's hash-tagged keys, or the session's Redis.
  const queue = cluster ? queueUploader(cluster.target, s.prefix) : null;
  if (queue) cleanups.push(() => queue.close());
  const queueUpload = async (u: BuiltUpdate): Promise<string> => (queue ? (await queue.upload(u.job as SignedUpdate, u.bytes)).jobId : s.producer.upload(u));
  const a = await s.start({ DATA_DIR: dirs[0]! });
  const b = await s.start({ DATA_DIR: dirs[1]!, PORT: String(await freePort()) });
  // Worker 1 freezes after taking its first job's blob (the failpoint), so its death leaves a job mid-way.
  const w1 = await s.startWorker({ ...store, ...LOCK, DATA_DIR: dirs[2]!, FAILPOINTS: 'worker.after-blob-move' });
  const { task, round, updates } = await openTaskRound(a.url, 5);

  // Through the queue first, while only the doomed worker is up: it takes the job and freezes.
  const stalled = await queueUpload(updates[0]!);
  await w1.waitForLine('"failpoint":"worker.after-blob-move"');
  const w2 = await s.startWorker({ ...store, ...LOCK, DATA_DIR: dirs[3]! });
  // Two uploads over HTTP to replica B, one to replica A.
  const viaB = [await uploadHttp(b.url, updates[1]!), await uploadHttp(b.url, updates[2]!)];
  const viaA = await uploadHttp(a.url, updates[3]!);
  for (const r of [...viaB, viaA]) assert.equal(r.status, 202, JSON.stringify(r.body));
  // Mid-round: replica B and the frozen worker die without any shutdown code.
  await b.kill();
  await w1.kill();
  const last = await queueUpload(updates[4]!);

  for (const id of [stalled, last, ...viaB.map((r) => r.body.jobId as string), viaA.body.jobId as string]) {
    const d = await decisionOf(a.url, task.id, round.round, id, 60_000);
    assert.equal(d.status, 'accepted', JSON.stringify(d.status === 'rejected' ? d.rejection : null));
  }
  const r = await waitCommitted(a.url, task.id, round.round, 90_000);
  assert.equal(r.accepted, 5);
  assert.equal(r.rejected, 0);
  assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 5, 'each client counted once');
  assert.deepEqual(await commitsOf(s.chain, task.id), [1], 'committed once');
  assert.equal((await getRound(a.url, task.id, round.round)).state, 'committed');
  for (const d of dirs) for (const kind of ['checkpoints', 'updates', 'manifests']) assert.equal(existsSync(join(d, kind)), false, `no ${kind} in a DATA_DIR: content lives in the bucket`);
  if (cluster) {
    // The federation's state really is on the cluster (under its hash tag), not in the session's Redis.
    const onCluster = (await Promise.all(cluster.direct().map((m) => m.keys(`{${s.prefix}}:*`)))).flat();
    assert.ok(onCluster.length > 0, 'keys on the cluster');
    // (The harness's own producer, unused here, made BullMQ's meta key in the session's Redis.)
    const single = (await s.producer.redis.keys(`${s.prefix}:*`)).filter((k) => !k.startsWith(`${s.prefix}:bull:`));
    assert.deepEqual(single, [], 'no federation state in the single Redis');
  }
  await w2.stop();

  // An auditor with the chain and the bucket only (replica A is left running, but not asked).
  const audit = await flAudit(
    ['--rpc', s.chain.anvil.rpcUrl, '--registry', s.chain.d.addresses.registry, '--task', String(task.id), '--from-block', String(s.chain.d.blockNumber), '--store', `s3://${bucket}/fed`, '--s3-endpoint', s3.endpoint, '--reaggregate'],
    s3.credentialsEnv,
  );
  assert.equal(audit.code, 0, `${audit.stdout}\n${audit.stderr}`);
  assert.match(audit.stdout, /audit: task=\d+ rounds=1 pass findings=0/);
}

describe('replicas and workers on separate data dirs, one bucket', () => {
  const cleanups: Cleanups = [];
  after(() => runCleanups(cleanups));

  test('a replica and a worker killed mid-round: the round commits once, nothing lost or double-counted, the audit passes from the bucket', () => replicasScenario(cleanups, 'single'));

  test('the same on a three-master Redis Cluster (REDIS_CLUSTER_NODES): hash-tagged keys, BullMQ and the Lua scripts on the cluster', () => replicasScenario(cleanups, 'cluster'));
});
