import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZeroHash } from 'ethers';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import type { Task } from '../../protocol/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';
import { tcpProxy } from '../helpers/tcp-proxy.ts';
import { expectAudited } from '../helpers/chain-audit.ts';

// The coordinator against a real anvil: commits, restart reconciliation, an RPC outage.
describe('chain writer', () => {
  // One registry serves one coordinator deployment (task ids are the coordinator's), so each test
  // gets a fresh chain.
  let chain: Chain;
  const cleanups: (() => Promise<void>)[] = [];
  beforeEach(async () => {
    const c = await startChain();
    chain = c;
    cleanups.push(() => c.stop());
  });
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup failed:', e));
  });

  const connect = async (rpcUrl = chain.anvil.rpcUrl): Promise<ChainClient> => {
    const c = await connectChain({ rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(async () => c.close());
    return c;
  };
  /** Runs one round with `k` random updates and waits until it reaches `state`. */
  async function runRound(env: Awaited<ReturnType<typeof startTestCoordinator>>, task: Task, k: number, seed: number, state: string) {
    const { ctx } = env.c;
    const round = await openRound(ctx, task.id, { durationSeconds: 120, minClients: k, maxClients: k });
    for (let i = 0; i < k; i++) {
      const o = await makeOwner(ctx, task, seed + i);
      await queueUpload(env.config.redisUrl, env.config.prefix, await o.update(round.round, round.baseHash, 10 + i));
    }
    return waitFor(`round ${round.round} ${state}`, async () => {
      const r = await ctx.rounds.get(task.id, round.round);
      return r && r.state === state ? r : null;
    }, 30_000);
  }

  test('aggregated rounds are committed in order with their roots and rewards; the budget is funded once', async () => {
    const client = await connect();
    const env = await startTestCoordinator({}, { chain: client, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    const task = await createTask(env.c.ctx, { name: 'onchain', model: 'iris-mlp', rewards: { perRound: '1000', budget: '5000' } });
    const r1 = await runRound(env, task, 3, 10, 'committed');
    const r2 = await runRound(env, task, 2, 20, 'committed');

    const { registry, distributor } = client;
    assert.equal(await registry.lastRound(task.id), 2n);
    assert.equal((await registry.latestCheckpoint(task.id)).toLowerCase(), r2.checkpointHash);
    for (const r of [r1, r2]) {
      assert.ok(r.commit && /^0x[0-9a-f]{64}$/.test(r.commit.txHash) && r.commit.blockNumber > 0);
      const [root, reward] = await distributor.roundRewards(task.id, r.round);
      assert.equal(root.toLowerCase(), r.rewardsRoot);
      assert.equal(reward, 1000n);
      const [ev] = await registry.queryFilter(registry.filters.RoundCommitted(task.id, r.round));
      assert.equal(ev!.args.parentHash.toLowerCase(), r.baseHash);
      assert.equal(ev!.args.manifestHash.toLowerCase(), r.manifestHash);
      assert.equal(ev!.transactionHash, r.commit!.txHash);
    }
    assert.equal(await distributor.budgetOf(task.id), 3000n, '5000 funded once, 2 x 1000 allocated');
  });

  test('a spent budget: the last rounds pay what is left, then 0, and keep committing (no revert)', async () => {
    const client = await connect();
    const env = await startTestCoordinator({}, { chain: client, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    const task = await createTask(env.c.ctx, { name: 'short budget', model: 'iris-mlp', rewards: { perRound: '1000', budget: '2500' } });
    const rounds = [];
    for (let i = 0; i < 4; i++) rounds.push(await runRound(env, task, 1, 40 + i * 5, 'committed'));
    assert.deepEqual(rounds.map((r) => r.reward), ['1000', '1000', '500', '0']);
    for (const r of rounds) {
      const [, reward] = await client.distributor.roundRewards(task.id, r.round);
      assert.equal(reward, BigInt(r.reward!), `round ${r.round} allocated on chain what its manifest says`);
    }
    assert.equal(await client.distributor.budgetOf(task.id), 0n);
    assert.equal(await client.registry.lastRound(task.id), 4n);
    await expectAudited(chain, env.c.url, task.id);
  });

  test('a restarted coordinator adopts a commit it sent before dying instead of sending another', async () => {
    // First life: no chain writer, the round only aggregates.
    const env = await startTestCoordinator({});
    cleanups.push(() => env.cleanup());
    const task = await createTask(env.c.ctx, { name: 'reconcile', model: 'iris-mlp' });
    const r1 = await runRound(env, task, 2, 30, 'aggregated');
    // What the dead coordinator had sent: the task registration and the round's commit.
    const { registry } = chain.d;
    await (await registry.createTask(task.id, task.genesisHash)).wait();
    const sent = await registry.commitRound(task.id, 1, r1.checkpointHash!, r1.baseHash, r1.manifestHash!, r1.rewardsRoot!, ZeroHash, 'x', 0n);
    await sent.wait();
    const nonceBefore = await chain.provider.getTransactionCount(chain.addresses[0]!);

    // Second life, with the chain: it must find the commit, not send one.
    await env.c.stop();
    const client = await connect();
    const { startCoordinator } = await import('../../coordinator/server.ts');
    const { silentLog } = await import('../helpers/env.ts');
    const again = await startCoordinator(env.config, { log: silentLog(), chain: client, chainIntervalMs: 100 });
    cleanups.push(() => again.stop());
    const r = await waitFor('committed', async () => {
      const s = await again.ctx.rounds.get(task.id, 1);
      return s?.state === 'committed' ? s : null;
    });
    assert.equal(r.commit!.txHash, sent.hash);
    assert.equal(await chain.provider.getTransactionCount(chain.addresses[0]!), nonceBefore, 'no transaction was sent');
  });

  test('while the RPC is unreachable rounds stay aggregated with the reason; they are committed when it returns', async () => {
    const proxy = await tcpProxy(chain.anvil.port);
    cleanups.push(() => proxy.close());
    const client = await connect(proxy.url);
    const env = await startTestCoordinator({}, { chain: client, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    const task = await createTask(env.c.ctx, { name: 'outage', model: 'iris-mlp', rewards: { perRound: '10', budget: '100' } });
    await runRound(env, task, 2, 40, 'committed');

    await proxy.cut();
    const r2 = await runRound(env, task, 2, 50, 'aggregated');
    const stuck = await waitFor('commit error recorded', async () => {
      const s = await env.c.ctx.rounds.get(task.id, r2.round);
      return s?.commitError ? s : null;
    });
    assert.equal(stuck.state, 'aggregated', 'not lost, not failed');
    assert.match(stuck.commitError!, /unreachable/);

    await proxy.restore();
    const done = await waitFor('committed after the outage', async () => {
      const s = await env.c.ctx.rounds.get(task.id, r2.round);
      return s?.state === 'committed' ? s : null;
    }, 60_000);
    assert.equal(done.commitError, null);
    assert.equal(await client.registry.lastRound(task.id), 2n);
    await expectAudited(chain, env.c.url, task.id);
  });
});
