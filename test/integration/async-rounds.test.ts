import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { AppError } from '../../coordinator/errors.ts';
import { decodeCheckpoint, decodeManifest, decodeWire, stalenessFactor, type Task } from '../../protocol/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';
import { expectAudited } from '../helpers/chain-audit.ts';

// An async (FedBuff) task end to end: buffers of K updates that close as they fill and chain into the
// next, stale updates folded in arrival order and scaled by (1 + s)^-a, too-stale ones refused with
// STALE, every buffer committed on a real anvil and re-aggregated by the auditor bit for bit.
describe('async buffered rounds (FedBuff)', () => {
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  before(async () => {
    chain = await startChain();
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    env = await startTestCoordinator({}, { chain: chainClient, chainIntervalMs: 100 });
  });
  after(async () => {
    await env?.cleanup();
    chainClient?.close();
    await chain?.stop();
  });

  test('buffers fill and chain, a stale update is down-weighted, a too-stale one is refused, and the audit passes', async () => {
    const { ctx } = env.c;
    // int8, the default codec: the audit must decode and weigh exactly as the coordinator did.
    const task: Task = await createTask(ctx, { name: 'fedbuff', model: 'iris-mlp', async: { buffer: 2, maxStaleness: 1 }, rewards: { perRound: '1000', budget: '3000' }, seed: 4 });
    assert.deepEqual(task.async, { buffer: 2, maxStaleness: 1, stalenessExponent: 0.5 });
    const [a, b, c, d] = await Promise.all([31, 32, 33, 34].map((s) => makeOwner(ctx, task, s)));
    const first = await openRound(ctx, task.id, { durationSeconds: 120, minClients: 1, buffers: 3 });
    assert.equal(first.maxClients, 2, 'an async round takes the task buffer size');
    const accepted = async (round: number, n: number) =>
      waitFor(`${n} accepted in buffer ${round}`, async () => {
        const r = await ctx.rounds.get(task.id, round);
        return r && r.accepted >= n ? r : null;
      });
    const aggregated = async (round: number) =>
      waitFor(`buffer ${round} aggregated`, async () => {
        const r = await ctx.rounds.get(task.id, round);
        return r && (r.state === 'aggregated' || r.state === 'committed') ? r : null;
      });

    // Buffer 1: A and B, both fresh. C trains on checkpoint 0 too but is slow.
    const c1 = await c!.update(1, first.baseHash, 30);
    await queueUpload(env.config.redisUrl, env.config.prefix, await a!.update(1, first.baseHash, 10));
    await accepted(1, 1);
    await queueUpload(env.config.redisUrl, env.config.prefix, await b!.update(1, first.baseHash, 20));
    const r1 = await aggregated(1);
    assert.equal(r1.accepted, 2);

    // Buffer 2 opened by itself on checkpoint 1. C's update arrives a buffer late (staleness 1), then A's fresh one.
    const second = await waitFor('buffer 2 open', async () => {
      const r = await ctx.rounds.get(task.id, 2);
      return r?.state === 'open' ? r : null;
    });
    assert.equal(second.baseHash, r1.checkpointHash, 'the next buffer starts from the new checkpoint');
    const { jobId: staleJob } = await queueUpload(env.config.redisUrl, env.config.prefix, c1);
    await accepted(2, 1);
    const a2 = await a!.update(2, second.baseHash, 10);
    await queueUpload(env.config.redisUrl, env.config.prefix, a2);
    const r2 = await aggregated(2);
    const staleEntry = r2.acceptedUpdates.find((u) => u.jobId === staleJob)!;
    assert.deepEqual({ trainedFor: staleEntry.trainedFor, staleness: staleEntry.staleness, arrival: staleEntry.arrival }, { trainedFor: 1, staleness: 1, arrival: 0 });

    // The checkpoint is base + (n_C (1+1)^-0.5 D_C + n_A D_A) / (n_C + n_A), folded C first (arrival order).
    const base2 = decodeCheckpoint((await ctx.store.get('checkpoints', second.baseHash))!);
    const cp2 = decodeCheckpoint((await ctx.store.get('checkpoints', r2.checkpointHash!))!);
    const dC = decodeWire(task.wire, c1.bytes, task.params);
    const dA = decodeWire(task.wire, a2.bytes, task.params);
    const f = stalenessFactor(task.async!, 1);
    for (let i = 0; i < task.params; i++) {
      const want = base2.weights[i]! + (30 * Math.fround(dC[i]! * f) + 10 * dA[i]!) / 40;
      assert.ok(Math.abs(cp2.weights[i]! - want) < 1e-6, `weight ${i}: ${cp2.weights[i]} vs ${want}`);
    }
    const m2 = decodeManifest((await ctx.store.get('manifests', r2.manifestHash!))!);
    assert.deepEqual(m2.async?.arrivals.map((x) => [x.updateHash, x.trainedFor, x.staleness]), [[c1.meta.updateHash, 1, 1], [a2.meta.updateHash, 2, 0]]);

    // Buffer 3: D trained on checkpoint 0 (two buffers stale, the task takes one): refused with STALE.
    // C's update, already folded into buffer 2, cannot land in another buffer (DUPLICATE).
    const third = await waitFor('buffer 3 open', async () => {
      const r = await ctx.rounds.get(task.id, 3);
      return r?.state === 'open' ? r : null;
    });
    const { jobId: tooStale } = await queueUpload(env.config.redisUrl, env.config.prefix, await d!.update(1, first.baseHash, 10));
    const { jobId: replay } = await queueUpload(env.config.redisUrl, env.config.prefix, c1);
    const refused = await waitFor('two refusals', async () => {
      const list = await ctx.rounds.rejections(task.id, 1);
      return list.length >= 2 ? list : null;
    });
    const stale = refused.find((x) => x.jobId === tooStale)!;
    assert.equal(stale.code, 'STALE');
    assert.match(stale.reason, /trained on the checkpoint of round 1, 2 buffers before the open one \(3\); task \d+ takes updates at most 1 buffers stale/);
    assert.equal(refused.find((x) => x.jobId === replay)?.code, 'DUPLICATE');
    assert.equal((await ctx.rounds.get(task.id, 3))!.accepted, 0, 'refusals change nothing');

    await queueUpload(env.config.redisUrl, env.config.prefix, await b!.update(3, third.baseHash, 20));
    await queueUpload(env.config.redisUrl, env.config.prefix, await d!.update(3, third.baseHash, 10));
    await aggregated(3);
    // The chain of buffers ends where the admin said: nothing opens after buffer 3.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await ctx.tasks.openRound(task.id), 0);
    assert.equal((await ctx.tasks.get(task.id))!.lastRound, 3);

    // Every buffer is committed and paid like a round; the auditor re-aggregates all three.
    for (const r of [1, 2, 3]) {
      await waitFor(`buffer ${r} committed`, async () => ((await ctx.rounds.get(task.id, r))?.state === 'committed' ? true : null), 60_000);
    }
    await expectAudited(chain, env.c.url, task.id);
  });

  test('what an async task cannot be is refused up front; buffers is for async tasks only', async () => {
    const { ctx } = env.c;
    const refuses = async (body: Record<string, unknown>, re: RegExp) =>
      assert.rejects(createTask(ctx, { name: 'x', model: 'iris-mlp', async: { buffer: 3 }, ...body }), (e: unknown) => e instanceof AppError && e.code === 'ASYNC_UNSUPPORTED' && re.test(e.message));
    await refuses({ privacy: 'private' }, /private tasks are not buffered yet/);
    await refuses({ secure: { clipNorm: 1, range: 0.1, maxClients: 10 } }, /secure aggregation runs every client through one synchronised protocol round/);
    const sync = await createTask(ctx, { name: 'sync', model: 'iris-mlp' });
    await assert.rejects(openRound(ctx, sync.id, { buffers: 2 }), (e: unknown) => e instanceof AppError && /buffers is for async tasks/.test(e.message));
  });
});
