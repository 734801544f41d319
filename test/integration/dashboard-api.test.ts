import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Round, Task } from '../../protocol/index.ts';
import { ADMIN, startTestCoordinator } from '../helpers/env.ts';
import { adminPost } from '../helpers/updates.ts';

/** The dashboard's read models over a real coordinator and Redis: reports, timeline, event stream. */
describe('dashboard API', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let task: Task;
  before(async () => {
    env = await startTestCoordinator();
    task = Task.parse(await adminPost(env.c.url, '/v1/tasks', { name: 'dash', model: 'iris-mlp', seed: 1 }));
  });
  after(() => env.cleanup());

  const post = (path: string, body: unknown, token: string | null = ADMIN) =>
    fetch(`${env.c.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const evaluation = { accuracy: 0.9, loss: 0.3, examples: 100, dataset: 'iris-test' };

  test('the event stream sends a snapshot, then the newest round when one opens', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${env.c.url}/v1/tasks/${task.id}/events`, { signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp) => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until(/event: snapshot\ndata: \{"round":null/);
    const opened = Round.parse(await adminPost(env.c.url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 60, minClients: 1, maxClients: 2 }));
    await until(/event: round\ndata: \{"round":1,"state":"open"/);
    ctl.abort();
    assert.equal(opened.round, 1);
  });

  test('evaluations need the admin token, a valid body and an aggregated round', async () => {
    assert.equal((await post(`/v1/tasks/${task.id}/rounds/1/evaluation`, evaluation, null)).status, 401);
    assert.equal((await post(`/v1/tasks/${task.id}/rounds/1/evaluation`, evaluation, 'wrong-token-123')).status, 401);
    const bad = await post(`/v1/tasks/${task.id}/rounds/1/evaluation`, { ...evaluation, accuracy: 1.5 });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
    const early = await post(`/v1/tasks/${task.id}/rounds/1/evaluation`, evaluation);
    assert.equal(early.status, 409, 'round 1 is still open: there is no checkpoint to evaluate');
    assert.equal((await post(`/v1/tasks/${task.id}/rounds/9/evaluation`, evaluation)).status, 404);
    const list = (await (await fetch(`${env.c.url}/v1/tasks/${task.id}/evaluations`)).json()) as { evaluations: unknown[] };
    assert.deepEqual(list.evaluations, [], 'nothing refused was stored');
  });

  test('an audit summary is stored and read back; the timeline lists rounds without update lists', async () => {
    assert.deepEqual(await (await fetch(`${env.c.url}/v1/tasks/${task.id}/audit`)).json(), { audit: null });
    assert.equal((await post(`/v1/tasks/${task.id}/audit`, { pass: true, rounds: 1, findings: 0, reaggregated: true, extra: 1 })).status, 400);
    const stored = await post(`/v1/tasks/${task.id}/audit`, { pass: false, rounds: 1, findings: 2, reaggregated: false });
    assert.equal(stored.status, 201);
    const got = (await (await fetch(`${env.c.url}/v1/tasks/${task.id}/audit`)).json()) as { audit: { pass: boolean; findings: number } };
    assert.equal(got.audit.pass, false);
    assert.equal(got.audit.findings, 2);
    const timeline = (await (await fetch(`${env.c.url}/v1/tasks/${task.id}/rounds`)).json()) as { rounds: Record<string, unknown>[] };
    assert.equal(timeline.rounds.length, 1);
    assert.equal(timeline.rounds[0]!.state, 'open');
    assert.ok(!('acceptedUpdates' in timeline.rounds[0]!));
    assert.equal((await fetch(`${env.c.url}/v1/tasks/999/rounds`)).status, 404);
  });

  test('/ leads to the dashboard page, which loads its script and chart library from this server', async () => {
    const root = await fetch(`${env.c.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/dashboard/');
    const page = await (await fetch(`${env.c.url}/dashboard/`)).text();
    for (const src of [...page.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!)) {
      const r = await fetch(`${env.c.url}/dashboard/${src}`);
      assert.equal(r.status, 200, src);
    }
  });
});
