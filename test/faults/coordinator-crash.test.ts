/**
 * Faults against real processes: the coordinator (`coordinator/main.ts`, as `npm start` runs it) is
 * SIGKILLed at the worst moments, with a real Redis, a real anvil and the real queue. After each,
 * the round completes, every accepted update is counted once, the chain holds exactly one commit per
 * round, and an outsider's audit (with re-aggregation) passes.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Wallet } from 'ethers';
import { tcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/env.ts';
import { decisionOf, getRound } from '../helpers/updates.ts';
import { commitsOf, expectAudited, faultSetup, openTaskRound, runCleanups, uploadAccepted, waitCommitted, type Cleanups } from './harness.ts';

describe('coordinator killed (SIGKILL) mid-round, with a real chain', () => {
  const cleanups: Cleanups = [];
  after(() => runCleanups(cleanups));

  test('killed during collection: the round resumes, counts each update once, commits once, audits clean', async () => {
    const s = await faultSetup(cleanups);
    let c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 3);
    await uploadAccepted(s.producer, c.url, task.id, round.round, updates.slice(0, 2));
    await c.kill();
    // The third data owner uploads while the coordinator is down: the job waits in Redis.
    const late = await s.producer.upload(updates[2]!);
    c = await s.start();
    assert.equal((await decisionOf(c.url, task.id, round.round, late, 30_000)).status, 'accepted');
    const r = await waitCommitted(c.url, task.id, round.round);
    assert.equal(r.accepted, 3);
    assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 3, 'each client counted once');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });

  test('killed during aggregation (deltas archived, checkpoint not yet written): the next coordinator finishes it once', async () => {
    const s = await faultSetup(cleanups);
    // The failpoint freezes the close exactly there (coordinator/failpoints.ts), so the kill is not a race.
    let c = await s.start({ FAILPOINTS: 'close.after-archive' });
    const { task, round, updates } = await openTaskRound(c.url, 2);
    await uploadAccepted(s.producer, c.url, task.id, round.round, updates);
    await c.waitForLine('"failpoint":"close.after-archive"');
    assert.equal((await getRound(c.url, task.id, round.round)).state, 'closing', 'frozen mid-aggregation');
    await c.kill();
    assert.deepEqual(await commitsOf(s.chain, task.id), []);
    // The new coordinator waits out the dead one's close lock (15 s), then aggregates from Redis again.
    c = await s.start();
    const r = await waitCommitted(c.url, task.id, round.round, 90_000);
    assert.equal(r.accepted, 2);
    assert.equal(new Set(r.acceptedUpdates.map((u) => u.client)).size, 2, 'each client counted once');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });

  test('killed after registering and funding a task on chain, before recording it: the restart funds nothing twice', async () => {
    const s = await faultSetup(cleanups);
    let c = await s.start({ FAILPOINTS: 'chain.after-task-funded' });
    const { task, round, updates } = await openTaskRound(c.url, 2);
    await c.waitForLine('"failpoint":"chain.after-task-funded"');
    const funded = () => s.chain.d.distributor.queryFilter(s.chain.d.distributor.filters.Funded(task.id), s.chain.d.blockNumber);
    assert.equal((await funded()).length, 1);
    await c.kill();
    c = await s.start();
    await uploadAccepted(s.producer, c.url, task.id, round.round, updates);
    await waitCommitted(c.url, task.id, round.round);
    assert.equal((await funded()).length, 1, 'funded once, not twice');
    assert.equal(await s.chain.d.distributor.budgetOf(task.id), 10_000n - 1000n, 'the budget less one round\'s reward');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1]);
    await expectAudited(s.chain, c.url, task.id);
  });

  test('killed after its commit was mined, before recording it: the restart adopts the commit, sends no second one', async () => {
    const s = await faultSetup(cleanups);
    let c = await s.start({ FAILPOINTS: 'chain.after-commit-mined' });
    const { task, round, updates } = await openTaskRound(c.url, 2);
    await uploadAccepted(s.producer, c.url, task.id, round.round, updates);
    await c.waitForLine('"failpoint":"chain.after-commit-mined"');
    assert.equal((await getRound(c.url, task.id, round.round)).state, 'aggregated', 'the coordinator has not recorded the commit');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1], 'but the chain has it');
    await c.kill();
    const coordinator = s.chain.anvil.privateKeys[0]!;
    const nonceBefore = await s.chain.provider.getTransactionCount(new Wallet(coordinator).address);
    c = await s.start();
    const r = await waitCommitted(c.url, task.id, round.round);
    const [ev] = await s.chain.d.registry.queryFilter(s.chain.d.registry.filters.RoundCommitted(task.id, round.round), s.chain.d.blockNumber);
    assert.equal(r.commit?.txHash, ev!.transactionHash, 'the mined commit is adopted');
    assert.deepEqual(await commitsOf(s.chain, task.id), [1], 'one commit, not two');
    assert.equal(await s.chain.provider.getTransactionCount(new Wallet(coordinator).address), nonceBefore, 'the restart sent no transaction');
    await expectAudited(s.chain, c.url, task.id);
  });

  test('killed after aggregating, before the chain commit: the restarted coordinator commits exactly once', async () => {
    let proxy!: Awaited<ReturnType<typeof tcpProxy>>;
    const s = await faultSetup(cleanups, {
      rpcVia: async (rpcPort) => {
        proxy = await tcpProxy(rpcPort);
        cleanups.push(() => proxy.close());
        return proxy.url;
      },
    });
    let c = await s.start();
    const { task, round, updates } = await openTaskRound(c.url, 2);
    // The task is registered on chain first (the writer does that before any commit).
    await waitFor('task registered on chain', async () => (await s.chain.d.registry.queryFilter(s.chain.d.registry.filters.TaskCreated(), s.chain.d.blockNumber)).length > 0, 60_000);
    await proxy.cut();
    await uploadAccepted(s.producer, c.url, task.id, round.round, updates);
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
    const r = await waitCommitted(c.url, task.id, round.round);
    assert.equal(r.checkpointHash, stuck.checkpointHash, 'the same checkpoint, not a re-aggregation');
    assert.equal(r.accepted, 2);
    assert.deepEqual(await commitsOf(s.chain, task.id), [1], 'one commit, not two');
    await expectAudited(s.chain, c.url, task.id);
  });
});
