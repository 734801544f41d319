import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Wallet } from 'ethers';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { buildUpdate, decisionOf, getRound, IRIS_PARAMS, openRoundFor, queueProducer, randomDelta } from '../helpers/updates.ts';

/** Reads one sample's value from Prometheus text, or null when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = /\{([^}]*)\}/.exec(line)?.[1] ?? '';
    if (want.every((w) => body.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

// Each test file runs in its own process, so the process-wide counters start at zero here.
describe('metrics and request ids', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let producer: ReturnType<typeof queueProducer>;
  before(async () => {
    env = await startTestCoordinator();
    producer = queueProducer(env.config.redisUrl, env.config.prefix);
  });
  after(async () => {
    await producer.close();
    await env.cleanup();
  });
  const scrape = async () => {
    const r = await fetch(`${env.c.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
    return r.text();
  };

  test('a round\'s updates, rejections by reason, queue, aggregation and round states are counted', async () => {
    const [alice, bob] = [Wallet.createRandom(), Wallet.createRandom()];
    const { task, round, target } = await openRoundFor(env.c.url, { name: 'metrics', model: 'iris-mlp', seed: 2 }, [alice, bob], { durationSeconds: 120, minClients: 2, maxClients: 2 });
    const before = await scrape();
    assert.equal(sample(before, 'fl_rounds', { state: 'open' }), 1);
    assert.equal(sample(before, 'fl_tasks'), 1);
    assert.notEqual(sample(before, 'fl_update_queue_jobs', { state: 'waiting' }), null);

    const forged = await buildUpdate({ target, wallet: alice, signer: Wallet.createRandom(), delta: randomDelta(IRIS_PARAMS, 1) });
    assert.equal((await decisionOf(env.c.url, task.id, round.round, await producer.upload(forged))).status, 'rejected');
    for (const [i, w] of [alice, bob].entries()) {
      const u = await buildUpdate({ target, wallet: w, delta: randomDelta(IRIS_PARAMS, 10 + i) });
      assert.equal((await decisionOf(env.c.url, task.id, round.round, await producer.upload(u))).status, 'accepted');
    }
    await waitFor('round aggregated', async () => (await getRound(env.c.url, task.id, round.round)).state === 'aggregated');

    const text = await scrape();
    assert.equal(sample(text, 'fl_updates_total', { outcome: 'accepted' }), 2);
    assert.equal(sample(text, 'fl_updates_total', { outcome: 'rejected', reason: 'BAD_SIGNATURE' }), 1);
    assert.equal(sample(text, 'fl_update_queue_wait_seconds_count'), 3);
    assert.equal(sample(text, 'fl_aggregation_seconds_count', { outcome: 'aggregated' }), 1);
    assert.equal(sample(text, 'fl_rounds', { state: 'open' }), 0);
    assert.equal(sample(text, 'fl_rounds', { state: 'aggregated' }), 1);
    assert.notEqual(sample(text, 'fl_process_resident_memory_bytes'), null);
  });

  test('every response carries a request id; a sane incoming one is kept, a hostile one replaced', async () => {
    const fresh = await fetch(`${env.c.url}/v1/health`);
    assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const kept = await fetch(`${env.c.url}/v1/tasks`, { headers: { 'x-request-id': 'trace-42' } });
    assert.equal(kept.headers.get('x-request-id'), 'trace-42');
    const hostile = await fetch(`${env.c.url}/v1/tasks`, { headers: { 'x-request-id': 'a b\u00e9{}' } });
    assert.notEqual(hostile.headers.get('x-request-id'), 'a b\u00e9{}');
  });
});
