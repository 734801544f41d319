import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCheckpoint, StrategyConfig } from '../../protocol/index.ts';
import { createStrategy } from '../../coordinator/strategies/index.ts';
import { startCoordinator } from '../../coordinator/server.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { isolatedConfig, silentLog, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';

// The coordinator keeps round state in Redis and deltas in Redis until archived, so a restart
// (here: stop, then a new coordinator on the same Redis prefix and data directory) loses nothing.
describe('coordinator restart', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const f of cleanups) await f();
  });

  test('a round survives a restart during collection; every accepted update is counted once', async () => {
    const { config, cleanup } = await isolatedConfig();
    cleanups.push(cleanup);
    const a = await startCoordinator(config, { log: silentLog() });
    // float32: the check below recomputes the mean from the deltas as sent.
    const task = await createTask(a.ctx, { name: 'restart', model: 'iris-mlp', wire: { codec: 'float32' } });
    const round = await openRound(a.ctx, task.id, { durationSeconds: 120, minClients: 3, maxClients: 3 });
    const owners = await Promise.all([1, 2, 3].map((s) => makeOwner(a.ctx, task, s)));
    const ups = await Promise.all(owners.map((o) => o.update(1, round.baseHash, 10 * (owners.indexOf(o) + 1))));

    // Two updates arrive and are accepted by the first coordinator's worker.
    await queueUpload(config.redisUrl, config.prefix, ups[0]!);
    await queueUpload(config.redisUrl, config.prefix, ups[1]!);
    await waitFor('2 accepted', async () => ((await a.ctx.rounds.head(task.id, 1))?.accepted === 2 ? true : null));
    await a.stop();

    // The third arrives while no coordinator runs: it waits in the queue.
    await queueUpload(config.redisUrl, config.prefix, ups[2]!);
    const b = await startCoordinator(config, { log: silentLog() });
    try {
      const done = await waitFor('aggregated', async () => {
        const r = await b.ctx.rounds.get(task.id, 1);
        return r?.state === 'aggregated' ? r : null;
      });
      assert.equal(done.accepted, 3);
      assert.equal(done.rejected, 0);
      assert.deepEqual(done.acceptedUpdates.map((u) => u.client).sort(), owners.map((o) => o.address).sort());

      // The checkpoint is exactly base + sample-weighted mean of the three deltas: none counted twice.
      const base = decodeCheckpoint((await b.ctx.store.get('checkpoints', round.baseHash))!);
      const cp = decodeCheckpoint((await b.ctx.store.get('checkpoints', done.checkpointHash!))!);
      const n = ups.map((u) => u.meta.numSamples);
      const total = n.reduce((x, y) => x + y, 0);
      for (let i = 0; i < task.params; i += 7) {
        const want = base.weights[i]! + ups.reduce((s, u, k) => s + (u.delta[i]! * n[k]!) / total, 0);
        assert.ok(Math.abs(cp.weights[i]! - want) < 1e-6, `weight ${i}: ${cp.weights[i]} vs ${want}`);
      }
      // Accepted deltas are archived content-addressed for auditors.
      for (const u of ups) assert.ok(await b.ctx.store.has('updates', u.meta.updateHash));
    } finally {
      await b.stop();
    }
  });

  test('a round left closing by a coordinator that died mid-aggregation is finished by the next one', async () => {
    const { config, cleanup } = await isolatedConfig();
    cleanups.push(cleanup);
    // Scheduler off: this coordinator only collects.
    const a = await startCoordinator(config, { log: silentLog(), scheduler: false });
    const task = await createTask(a.ctx, { name: 'resume', model: 'iris-mlp' });
    const round = await openRound(a.ctx, task.id, { durationSeconds: 120, minClients: 2, maxClients: 2 });
    const owners = await Promise.all([4, 5].map((s) => makeOwner(a.ctx, task, s)));
    for (const o of owners) await queueUpload(config.redisUrl, config.prefix, await o.update(1, round.baseHash));
    await waitFor('2 accepted', async () => ((await a.ctx.rounds.head(task.id, 1))?.accepted === 2 ? true : null));
    // It got as far as closing the round (and holding the lock), then died.
    assert.equal(await a.ctx.rounds.beginClose(task.id, 1), 'closing');
    await a.ctx.redis.set(a.ctx.keys.closeLock(task.id, 1), 'dead-coordinator', 'PX', 500);
    await a.stop();

    const b = await startCoordinator(config, { log: silentLog() });
    try {
      const done = await waitFor('aggregated', async () => {
        const r = await b.ctx.rounds.get(task.id, 1);
        return r?.state === 'aggregated' ? r : null;
      });
      assert.equal(done.accepted, 2);
      assert.equal((await b.ctx.tasks.get(task.id))!.checkpointHash, done.checkpointHash);
      // Resuming is deterministic: aggregating the same inputs again gives the same hash.
      assert.equal(await b.ctx.rounds.beginClose(task.id, 1), 'aggregated');
    } finally {
      await b.stop();
    }
  });
  for (const strategy of [{ name: 'fedavgm' }, { name: 'fedyogi', serverLr: 0.05 }] as const) {
    test(`${strategy.name}: the server optimiser's state is in the checkpoint, so a restart between rounds resumes identically`, async () => {
      const { config, cleanup } = await isolatedConfig();
      cleanups.push(cleanup);
      const a = await startCoordinator(config, { log: silentLog() });
      const task = await createTask(a.ctx, { name: 'optimiser-restart', model: 'iris-mlp', strategy, wire: { codec: 'float32' } }); // float32: the check below re-aggregates the deltas as sent
      const owners = await Promise.all([21, 22].map((s) => makeOwner(a.ctx, task, s)));
      const runRound = async (c: typeof a, r: number) => {
        const round = await openRound(c.ctx, task.id, { durationSeconds: 120, minClients: 2, maxClients: 2 });
        const ups = await Promise.all(owners.map((o, k) => o.update(r, round.baseHash, 10 + k)));
        for (const u of ups) await queueUpload(config.redisUrl, config.prefix, u);
        const done = await waitFor(`round ${r} aggregated`, async () => {
          const x = await c.ctx.rounds.get(task.id, r);
          return x?.state === 'aggregated' ? x : null;
        });
        return { round, ups, done };
      };
      const r1 = await runRound(a, 1);
      await a.stop();

      // A new coordinator knows nothing but what Redis and the store hold.
      const b = await startCoordinator(config, { log: silentLog() });
      try {
        const r2 = await runRound(b, 2);
        const cp1 = decodeCheckpoint((await b.ctx.store.get('checkpoints', r1.done.checkpointHash!))!);
        const cp2 = decodeCheckpoint((await b.ctx.store.get('checkpoints', r2.done.checkpointHash!))!);
        assert.ok(Object.keys(cp1.serverState.tensors).length > 0, 'round 1 stored the optimiser state');
        // An uninterrupted aggregation of round 2 from checkpoint 1's weights and state, in the
        // coordinator's order (ascending client address), gives the very bytes the restarted one stored.
        const order = r2.ups.slice().sort((x, y) => (x.meta.client < y.meta.client ? -1 : 1));
        const rule = createStrategy(StrategyConfig.parse(strategy));
        const deltas = () => (async function* () {
          for (const u of order) yield { id: u.meta.updateHash, delta: u.delta, numSamples: u.meta.numSamples };
        })();
        const want = await rule.aggregate({ base: cp1.weights, serverState: cp1.serverState, deltas, count: 2 });
        assert.deepEqual(Buffer.from(cp2.weights.buffer, cp2.weights.byteOffset, cp2.weights.byteLength), Buffer.from(want.weights.buffer));
        for (const [name, t] of Object.entries(want.serverState.tensors)) assert.deepEqual([...cp2.serverState.tensors[name]!], [...t], `state ${name}`);
        // And the state mattered: starting round 2 from an empty state would give other weights.
        const fresh = await rule.aggregate({ base: cp1.weights, serverState: { scalars: {}, tensors: {} }, deltas, count: 2 });
        assert.notDeepEqual([...fresh.weights], [...cp2.weights]);
      } finally {
        await b.stop();
      }
    });
  }
});
