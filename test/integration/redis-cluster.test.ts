import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import type { Redis } from 'ioredis';
import { FederatedClient } from '../../client/federated-client.ts';
import { CoordinatorApi, CoordinatorError } from '../../client/coordinator-api.ts';
import { loadIris } from '../../client/data/iris.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { subset } from '../../client/data/dataset.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { parseEnv } from '../../coordinator/config.ts';
import { checkCluster, connectRedis, RedisUnavailableError } from '../../coordinator/infra/redis-connection.ts';
import { freePort, startRedisServer } from '../../coordinator/infra/redis-server.ts';
import { uploaderAclCommand } from '../../coordinator/queue/upload-acl.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { contentHash, decodeManifest, keyNamespace, verifyManifest } from '../../protocol/index.ts';
import { deletePrefixKeys } from '../../scripts/redis-cleanup.ts';
import { ADMIN, isolation, silentLog, waitFor } from '../helpers/env.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis-cluster.ts';

/** Every key matching `pattern` on each master, by master (SCAN sees only its own node's keys). */
async function keysByMaster(masters: Redis[], pattern: string): Promise<string[][]> {
  return Promise.all(
    masters.map(async (m) => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await m.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      return found;
    }),
  );
}

// The coordinator, a separate worker process and queue-uploading clients on a three-master Redis
// Cluster of the test's own (redis-server --cluster-enabled yes, redis-cli --cluster create), with
// real TensorFlow.js training, BullMQ and the project's Lua scripts.
describe('a Redis Cluster deployment (REDIS_CLUSTER_NODES)', () => {
  let cluster: TestCluster;
  let coordinator: RunningCoordinator | undefined;
  let worker: ChildProcess | undefined;
  const clients: FederatedClient[] = [];
  const { prefix } = isolation();
  const ns = keyNamespace(prefix, true);
  const dataDir = mkdtempSync(join(tmpdir(), 'fl-cluster-'));

  before(async () => {
    await initBackend();
    cluster = await startTestCluster(3);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await coordinator?.stop();
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the start-up check refuses a cluster that does not serve every slot, naming it', { timeout: 30_000 }, async () => {
    // A cluster-enabled node that never joined a cluster serves no slot: its state is fail.
    const lone = await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort())] });
    try {
      const target = { kind: 'cluster' as const, nodes: [{ host: '127.0.0.1', port: lone.port }] };
      await assert.rejects(checkCluster(target, 3000), (e: Error) => e instanceof RedisUnavailableError && e.message.includes(`Redis Cluster 127.0.0.1:${lone.port}`) && /cluster_state:fail/.test(e.message));
    } finally {
      await lone.stop();
    }
    // A single Redis named as a cluster node is a configuration mistake, said as such.
    const single = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    await assert.rejects(
      checkCluster({ kind: 'cluster', nodes: [{ host: single.hostname, port: Number(single.port || 6379) }] }, 3000),
      (e: Error) => e instanceof RedisUnavailableError && /is not a cluster node \(cluster support disabled\): for a single Redis set REDIS_URL/.test(e.message),
    );
    await checkCluster(cluster.target);
  });

  test('two rounds aggregate once each with every queued and HTTP update counted, all keys in one slot', { timeout: 240_000 }, async () => {
    const env = { REDIS_CLUSTER_NODES: cluster.nodesList, REDIS_PREFIX: prefix, PORT: '0', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', IN_PROCESS_WORKER: '0', CHECK_THREADS: '1', SCHEDULER_INTERVAL_MS: '50' };
    const config = parseEnv(env);
    coordinator = await startCoordinator(config, { log: silentLog() });
    // The worker is its own process, configured like the coordinator, with no REDIS_URL at all.
    const { REDIS_URL: _unused, ...rest } = process.env;
    worker = spawn(process.execPath, ['--import', 'tsx', 'coordinator/worker-main.ts'], {
      env: { ...rest, ...env, LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '2' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });

    // Client 0 uploads as an upload-only ACL user, made on every node (ACL users are per node).
    const wallets = [0, 1, 2].map(() => Wallet.createRandom());
    for (const node of cluster.direct()) {
      const [cmd, ...args] = uploaderAclCommand('alice', 'alice-pass-123', prefix, wallets[0]!.address, { cluster: true });
      await node.call(cmd!, ...args);
    }
    const admin = new CoordinatorApi(coordinator.url, ADMIN);
    const task = await admin.createTask({ name: 'iris on a cluster', model: 'iris-mlp', training: { localEpochs: 3, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '900' }, seed: 3 });
    const iris = loadIris();
    const parts = iidPartition(iris.n, 3, 1);
    clients.push(
      new FederatedClient({ coordinatorUrl: coordinator.url, wallet: wallets[0]!, pollMs: 50, upload: { mode: 'queue', prefix, redisCluster: { nodes: cluster.nodes, username: 'alice', password: 'alice-pass-123' } } }),
      new FederatedClient({ coordinatorUrl: coordinator.url, wallet: wallets[1]!, pollMs: 50, upload: { mode: 'queue', prefix, redisCluster: { nodes: cluster.nodes } } }),
      new FederatedClient({ coordinatorUrl: coordinator.url, wallet: wallets[2]!, pollMs: 50, upload: { mode: 'http' } }),
    );
    for (const c of clients) await c.register(task.id);

    let last = task.genesisHash as string;
    for (let r = 1; r <= 2; r++) {
      const round = await admin.openRound(task.id, { durationSeconds: 120, minClients: 3, maxClients: 3 });
      assert.equal(round.round, r);
      assert.equal(round.baseHash, last);
      const results = await Promise.all(clients.map((c, i) => c.contribute({ task, round, data: subset(iris, parts[i]!) })));
      assert.deepEqual(results.map((x) => x.via), ['queue', 'queue', 'http']);
      for (const [i, res] of results.entries()) assert.deepEqual(await clients[i]!.waitForDecision(task.id, r, res.jobId, 60_000), { status: 'accepted' });
      const done = await waitFor('round aggregated', async () => {
        const s = await admin.getRound(task.id, r);
        return s.state === 'aggregated' ? s : null;
      }, 60_000);
      assert.equal(done.accepted, 3);
      assert.equal(done.rejected, 0);
      assert.deepEqual(done.acceptedUpdates.map((u) => u.client).sort(), wallets.map((w) => w.address.toLowerCase()).sort());
      const m = decodeManifest(new Uint8Array(await (await fetch(new URL(`/v1/manifests/${done.manifestHash}`, coordinator.url))).arrayBuffer()));
      assert.deepEqual(verifyManifest(m), []);
      assert.equal(m.entries.length, 3);
      assert.equal(m.entries.reduce((s, e) => s + BigInt(e.reward), 0n), 900n);
      const cp = await admin.getCheckpoint(done.checkpointHash!);
      assert.equal(await contentHash(cp.bytes), done.checkpointHash);
      assert.equal(cp.checkpoint.parentHash, last);
      last = done.checkpointHash!;
    }
    assert.equal((await admin.getTask(task.id)).checkpointHash, last);
    // Openings at once (open-round.lua is handed the new round's key, and retried when the counter
    // moved under it): one round 3, every other answer ROUND_ALREADY_OPEN.
    const openings = await Promise.allSettled(Array.from({ length: 4 }, () => admin.openRound(task.id, { durationSeconds: 120, minClients: 1, maxClients: 3 })));
    assert.deepEqual(openings.flatMap((o) => (o.status === 'fulfilled' ? [o.value.round] : [])), [3]);
    for (const o of openings) if (o.status === 'rejected') assert.ok(o.reason instanceof CoordinatorError && o.reason.code === 'ROUND_ALREADY_OPEN', String(o.reason));

    // The rate limiter counts on the cluster (its script is loaded on every master): a failing
    // store would let requests through without the header.
    const a = await fetch(new URL('/v1/tasks', coordinator.url));
    const b = await fetch(new URL('/v1/tasks', coordinator.url));
    const remaining = (res: Response) => Number(/remaining=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
    assert.ok(Number.isFinite(remaining(a)), `RateLimit header: ${a.headers.get('ratelimit')}`);
    assert.equal(remaining(b), remaining(a) - 1);

    // The worker probe finds this host's worker through the cluster.
    const probe = spawn(process.execPath, ['--import', 'tsx', 'scripts/healthcheck.ts', 'worker'], { env: { ...rest, REDIS_CLUSTER_NODES: cluster.nodesList, REDIS_PREFIX: prefix }, stdio: ['ignore', 'pipe', 'pipe'] });
    let probeOut = '';
    probe.stdout!.on('data', (d) => (probeOut += d));
    probe.stderr!.on('data', (d) => (probeOut += d));
    assert.equal(await new Promise((r) => probe.once('exit', r)), 0, probeOut);

    // Every key of the deployment, coordinator's, BullMQ's and the rate limiter's, is under the
    // tag, in one slot, on one master; none is under the bare prefix.
    const byMaster = await keysByMaster(cluster.direct(), `${ns}:*`);
    const all = byMaster.flat();
    assert.ok(all.some((k) => k.startsWith(`${ns}:bull:updates:`)) && all.some((k) => k.startsWith(`${ns}:round:`)) && all.some((k) => k.startsWith(`${ns}:rl:`)), `keys found: ${all.length}`);
    assert.equal(byMaster.filter((keys) => keys.length > 0).length, 1, 'one master holds the deployment');
    const [d0] = cluster.direct();
    const slots = new Set(await Promise.all(all.map((k) => d0!.cluster('KEYSLOT', k))));
    assert.equal(slots.size, 1);
    assert.deepEqual((await keysByMaster(cluster.direct(), `${prefix}:*`)).flat(), []);
  });

  test('the prefix clean-up deletes the deployment on every master and nothing else', { timeout: 60_000 }, async () => {
    await coordinator?.stop();
    coordinator = undefined;
    const r = connectRedis(cluster.target, { maxRetriesPerRequest: 3 });
    // Another deployment's key, and a prefix whose keys carry tags of their own, so that they sit
    // on every master: the clean-up must SCAN each one and delete key by key (no cross-slot DEL).
    const other = `{other-${prefix}}:keep`;
    const spreadPrefix = `${prefix}-spread`;
    try {
      await r.set(other, '1');
      for (let i = 0; i < 30; i++) await r.set(`${spreadPrefix}:{s${i}}`, '1');
      assert.equal((await keysByMaster(cluster.direct(), `${spreadPrefix}:*`)).filter((keys) => keys.length > 0).length, 3, 'the spread keys sit on all three masters');
      assert.ok((await keysByMaster(cluster.direct(), `${ns}:*`)).flat().length > 0);

      await deletePrefixKeys(cluster.target, ns);
      await deletePrefixKeys(cluster.target, spreadPrefix);

      assert.deepEqual((await keysByMaster(cluster.direct(), `${ns}:*`)).flat(), []);
      assert.deepEqual((await keysByMaster(cluster.direct(), `${spreadPrefix}:*`)).flat(), []);
      assert.equal(await r.get(other), '1', 'another deployment is left alone');
    } finally {
      await r.del(other);
      r.disconnect();
    }
  });
});
