/**
 * Property tests (fast-check) over every REST route that takes input, against a real coordinator
 * and Redis: whatever arrives, the answer is never a 5xx, an error is always the JSON error shape,
 * and a refused request changes no task or round state. Inputs are both arbitrary values and valid
 * bodies with one field mutated, which is where parsers usually slip.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Wallet } from 'ethers';
import { Round, Task } from '../../protocol/index.ts';
import { ADMIN, startTestCoordinator } from '../helpers/env.ts';
import { adminPost, buildUpdate, IRIS_PARAMS, randomDelta, registerWallet } from '../helpers/updates.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

/** A valid object with one key replaced by anything, or removed, or an unknown key added. */
function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...keys), fc.anything()).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))),
    fc.tuple(fc.string({ maxLength: 12 }), fc.anything()).map(([k, v]) => ({ ...valid, [k]: v })),
  );
}
const anyBody = (valid: Record<string, unknown>) => fc.oneof(fc.anything(), fc.json().map((j) => ({ raw: j })), mutated(valid));

describe('REST inputs under fuzzing', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let task: Task;
  let priv: Task;
  let round: Round;
  before(async () => {
    env = await startTestCoordinator();
    task = Task.parse(await adminPost(env.c.url, '/v1/tasks', { name: 'fuzz', model: 'iris-mlp', seed: 1 }));
    priv = Task.parse(await adminPost(env.c.url, '/v1/tasks', { name: 'fuzz-private', model: 'iris-mlp', privacy: 'private' }));
    const w = Wallet.createRandom();
    assert.equal((await registerWallet(env.c.url, task.id, w, task.eip712)).status, 201);
    round = Round.parse(await adminPost(env.c.url, `/v1/tasks/${task.id}/rounds`, { durationSeconds: 3600, minClients: 1, maxClients: 5 }));
  });
  after(() => env.cleanup());

  /** Everything a refused request must leave as it was. */
  async function snapshot(): Promise<string> {
    const tasks = await (await fetch(`${env.c.url}/v1/tasks`)).json();
    const r = Round.parse(await (await fetch(`${env.c.url}/v1/tasks/${task.id}/rounds/${round.round}`)).json());
    const members = await (await fetch(`${env.c.url}/v1/tasks/${priv.id}/members`)).json();
    const evals = await (await fetch(`${env.c.url}/v1/tasks/${task.id}/evaluations`)).json();
    const audit = await (await fetch(`${env.c.url}/v1/tasks/${task.id}/audit`)).json();
    return JSON.stringify({ tasks, r: { ...r, deadline: null }, members, evals, audit });
  }

  /** Sends one request; checks the status and error shape; returns whether the input was refused. */
  async function send(method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string>): Promise<boolean> {
    const res = await fetch(`${env.c.url}${path}`, { method, headers, body: body as BodyInit | undefined });
    const text = await res.text();
    assert.ok(res.status < 500, `${method} ${path} answered ${res.status}: ${text}`);
    if (res.status >= 400) {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      assert.equal(typeof parsed.error?.code, 'string', text);
      assert.equal(typeof parsed.error?.message, 'string', text);
      return true;
    }
    return false;
  }

  const jsonRoutes: [string, () => string, Record<string, unknown>, boolean][] = [
    ['POST', () => '/v1/tasks', { name: 'x', model: 'iris-mlp', seed: 3, strategy: { name: 'fedavg' }, limits: { maxNorm: 10, minSamples: 1, maxSamples: 100 } }, true],
    ['POST', () => `/v1/tasks/${task.id}/clients/challenge`, { address: Wallet.createRandom().address }, false],
    ['POST', () => `/v1/tasks/${task.id}/clients`, { address: Wallet.createRandom().address, nonce: `0x${'12'.repeat(32)}`, expiresAt: 1_900_000_000, signature: `0x${'ab'.repeat(65)}` }, false],
    ['POST', () => `/v1/tasks/${priv.id}/members`, { commitments: ['123', '456'] }, true],
    ['POST', () => `/v1/tasks/${task.id}/rounds`, { durationSeconds: 30, minClients: 1, maxClients: 2 }, true],
    ['POST', () => `/v1/tasks/${task.id}/rounds/${round.round}/evaluation`, { accuracy: 0.5, loss: 1, examples: 10, dataset: 'd' }, true],
    ['POST', () => `/v1/tasks/${task.id}/audit`, { pass: true, rounds: 1, findings: 0, reaggregated: true }, true],
  ];

  for (const [method, path, valid, admin] of jsonRoutes) {
    // The name is the route's shape: the ids exist only once before() has run.
    test(`${method} ${path.toString().replace(/^\(\) => /, '')}: never a 5xx, refusals change nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(anyBody(valid), fc.boolean(), async (body, withAdmin) => {
          const before = await snapshot();
          const headers: Record<string, string> = { 'content-type': 'application/json', ...(admin && withAdmin ? { authorization: `Bearer ${ADMIN}` } : {}) };
          const serialised = JSON.stringify(body);
          const refused = await send(method, path(), serialised === undefined ? 'undefined' : serialised, headers);
          if (refused) assert.equal(await snapshot(), before, `refused ${serialised?.slice(0, 200)} changed state`);
        }),
        { numRuns: RUNS },
      );
    });
  }

  test('raw bytes as JSON and malformed path parameters: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), fc.oneof(fc.string(), fc.integer().map(String), fc.constant('0x')), async (bytes, param) => {
        const before = await snapshot();
        const p = encodeURIComponent(param);
        const refused = await send('POST', `/v1/tasks/${p}/rounds`, Buffer.from(bytes), { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` });
        await send('GET', `/v1/tasks/${p}/rounds/${p}`, undefined, {});
        await send('GET', `/v1/checkpoints/${p}`, undefined, {});
        // An empty body is a valid request (every round field has a default): when the id names a
        // task, that opens a round. Only a refusal must leave everything as it was.
        if (refused) assert.equal(await snapshot(), before, `refused ${bytes.length} bytes on task ${JSON.stringify(param)} changed state`);
      }),
      { numRuns: RUNS },
    );
  });

  test('PUT updates with arbitrary headers and bytes: never a 5xx, nothing queued from a refusal', async () => {
    const w = Wallet.createRandom();
    const target = { task: task.id, round: round.round, baseHash: round.baseHash, domain: task.eip712 };
    const valid = await buildUpdate({ target, wallet: w, delta: randomDelta(IRIS_PARAMS, 1) });
    const headerArb = fc.oneof(
      fc.dictionary(fc.constantFrom('x-fl-client', 'x-fl-base-hash', 'x-fl-update-hash', 'x-fl-num-samples', 'x-fl-signature', 'x-fl-nullifier', 'x-fl-proof', 'content-type'), fc.string({ maxLength: 200 })),
      fc.tuple(fc.constantFrom(...Object.keys(valid.headers)), fc.string({ maxLength: 200 })).map(([k, v]) => ({ ...valid.headers, [k]: v })),
    );
    await fc.assert(
      fc.asyncProperty(headerArb, fc.oneof(fc.uint8Array({ maxLength: 1024 }), fc.constant(valid.bytes)), async (headers, bytes) => {
        const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => /^[\t\x20-\x7e]*$/.test(v)));
        const before = await snapshot();
        const refused = await send('PUT', `/v1/tasks/${task.id}/rounds/${round.round}/updates`, Buffer.from(bytes), clean);
        // The wallet never registered, so nothing here may be queued: every attempt is refused at once.
        assert.ok(refused, 'an unregistered upload was queued');
        assert.equal(await snapshot(), before);
      }),
      { numRuns: RUNS },
    );
  });
});
