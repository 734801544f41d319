/**
 * Faults against real processes: the coordinator (`coordinator/main.ts`, as `npm start` runs it) is
 * SIGKILLed at the worst moments, with a real Redis, a real anvil and the real queue. After each,
 * the round completes, every accepted update is counted once, the chain holds exactly one commit per
 * round, and an outsider's audit (with re-aggregation) passes.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Wallet } from 'ethers';
import { auditTask, coordinatorSource } from '../../client/audit/index.ts';
import { freePort } from '../../coordinator/infra/redis-server.ts';
import { Round, Task } from '../../protocol/index.ts';
import { startCoordinatorProcess, type CoordinatorProcess } from '../../scripts/coordinator-process.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { ADMIN, deletePrefix, isolation, testRedis, waitFor } from '../helpers/env.ts';
import { tcpProxy } from '../helpers/tcp-proxy.ts';
import { adminPost, buildUpdate, decisionOf, getRound, IRIS_PARAMS, queueProducer, randomDelta, registerWallet } from '../helpers/updates.ts';

describe('coordinator killed (SIGKILL) mid-round, with a real chain', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => console.error('cleanup failed:', e));
  });

  /** A fresh chain, prefix, data dir and port (one registry serves one coordinator deployment). */
  async function setup(rpcVia?: (rpcPort: number) => Promise<string>) {
    const chain: Chain = await startChain();
    cleanups.push(() => chain.stop());
    const redis = await testRedis();
    const { prefix, dataDir } = isolation();
    cleanups.push(async () => {
      await deletePrefix(redis.url, prefix);
      rmSync(dataDir, { recursive: true, force: true });
    });
    const port = await freePort();
    const rpcUrl = rpcVia ? await rpcVia(Number(new URL(chain.anvil.rpcUrl).port)) : chain.anvil.rpcUrl;
    const env = {
      PORT: String(port), REDIS_URL: redis.url, REDIS_PREFIX: prefix, DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN,
      RPC_URL: rpcUrl, PRIVATE_KEY: chain.anvil.privateKeys[0]!, REGISTRY_ADDRESS: chain.d.addresses.registry,
      REGISTRY_FROM_BLOCK: String(chain.d.blockNumber), SCHEDULER_INTERVAL_MS: '50',
    };
    let current: CoordinatorProcess | null = null;
    const start = async () => {
      current = await startCoordinatorProcess(env);
      return current;
    };
    cleanups.push(async () => current?.stop());
    const producer = queueProducer(redis.url, prefix);
    cleanups.push(() => producer.close());
    return { chain, start, producer, url: `http://127.0.0.1:${port}` };
  }

  async function openTaskRound(url: string, clients: number) {
    const task = Task.parse(await adminPost(url, '/v1/tasks', { name: 'crash', model: 'iris-mlp', seed: 5, rewards: { perRound: '1000', budget: '10000' } }));
    const wallets = Array.from({ length: clients }, () => Wallet.createRandom());
    for (const w of wallets) assert.equal((await registerWallet(url, task.id, w, task.eip712)).status, 201);
    const round = Round.parse(await adminPost(url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 300, minClients: clients, maxClients: clients }));
    const target = { task: task.id, round: round.round, baseHash: round.baseHash, domain: task.eip712 };
    const updates = await Promise.all(wallets.map((w, i) => buildUpdate({ target, wallet: w, delta: randomDelta(IRIS_PARAMS, 40 + i), numSamples: 10 + i })));
    return { task, round, updates };
  }

  async function commitsOf(chain: Chain, task: number): Promise<number[]> {
    const events = await chain.d.registry.queryFilter(chain.d.registry.filters.RoundCommitted(), chain.d.blockNumber);
    return events.filter((e) => Number(e.args[0]) === task).map((e) => Number(e.args[1]));
  }

  async function expectAudited(chain: Chain, url: string, task: number) {
    const report = await auditTask({ rpcUrl: chain.anvil.rpcUrl, registry: chain.d.addresses.registry, task, source: coordinatorSource(url), reaggregate: true, fromBlock: chain.d.blockNumber });
    assert.equal(report.pass, true, JSON.stringify(report.findings.slice(0, 5)));
  }

  test('killed during collection: the round resumes, counts each update once, commits once, audits clean', async () => {
    const s = await setup();
    let c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 3);
    for (const u of updates.slice(0, 2)) assert.equal((await decisionOf(c.url, task.id, round.round, await s.producer.upload(u))).status, 'accepted');
    await c.kill();
    // The third data owner uploads while the coordinator is down: the job waits in Redis.
    const late = await s.producer.upload(updates[2]!);
    c = await s.start();
    assert.equal((await decisionOf(c.url, task.id, round.round, late, 30_000)).status, 'accepted');
    const r = await waitFor('round committed', async () => {
      const x = await getRound(c.url, task.id, round.round);
      return x.state === 'committed' ? x : null;
    }, 60_000);
    assert.equal(r.accepted, 3);
    assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 3, 'each client counted once');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });

  test('killed after aggregating, before the chain commit: the restarted coordinator commits exactly once', async () => {
    let proxy!: Awaited<ReturnType<typeof tcpProxy>>;
    const s = await setup(async (rpcPort) => {
      proxy = await tcpProxy(rpcPort);
      cleanups.push(() => proxy.close());
      return proxy.url;
    });
    let c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 2);
    // The task is registered on chain first (the writer does that before any commit).
    await waitFor('task registered on chain', async () => (await s.chain.d.registry.queryFilter(s.chain.d.registry.filters.TaskCreated(), s.chain.d.blockNumber)).length > 0, 60_000);
    await proxy.cut();
    for (const u of updates) assert.equal((await decisionOf(c.url, task.id, round.round, await s.producer.upload(u))).status, 'accepted');
    const stuck = await waitFor('aggregated', async () => {
      const x = await getRound(c.url, task.id, round.round);
      return x.state === 'aggregated' ? x : null;
    }, 60_000);
    // Give the chain writer time to try (and fail) against the cut RPC before the crash.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await getRound(c.url, task.id, round.round)).state, 'aggregated', 'still not committed');
    await c.kill();
    assert.deepEqual(await commitsOf(s.chain, task.id), [], 'nothing reached the chain');
    await proxy.restore();
    c = await s.start();
    const r = await waitFor('round committed', async () => {
      const x = await getRound(c.url, task.id, round.round);
      return x.state === 'committed' ? x : null;
    }, 60_000);
    assert.equal(r.checkpointHash, stuck.checkpointHash, 'the same checkpoint, not a re-aggregation');
    assert.equal(r.accepted, 2);
    assert.deepEqual(await commitsOf(s.chain, task.id), [1], 'one commit, not two');
    await expectAudited(s.chain, c.url, task.id);
  });
});
