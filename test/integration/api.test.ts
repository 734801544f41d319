import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Wallet, type BaseWallet } from 'ethers';
import request from 'supertest';
import type { Response } from 'supertest';
import { createApp } from '../../coordinator/http/app.ts';
import {
  blobKey,
  contentHash,
  decodeCheckpoint,
  encodeFloat32,
  initialWeights,
  PRESET_MODELS,
  Round,
  signRegistration,
  Task,
  type ModelSpec,
} from '../../protocol/index.ts';
import { ADMIN, startTestCoordinator, waitFor } from '../helpers/env.ts';
import { buildUpdate, decisionOf, IRIS_PARAMS, randomDelta, registerWallet, type UpdateTarget } from '../helpers/updates.ts';

// Every REST route of coordinator/http/app.ts, through real HTTP against a real coordinator
// (Redis, BullMQ worker, scheduler, file store).

const auth = { authorization: `Bearer ${ADMIN}` };
const STACK_TRACE = /\n\s+at |\bat [^\s]+ \(.*:\d+:\d+\)|node_modules|\.ts:\d+/;

/** Every error answer is JSON {error: {code, message}} and shows no internals. */
function assertError(res: Response, status: number, code?: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(typeof res.body?.error?.code, 'string', `error code in ${res.text}`);
  assert.equal(typeof res.body?.error?.message, 'string', `error message in ${res.text}`);
  if (code) assert.equal(res.body.error.code, code, res.text);
  assert.equal('stack' in res.body.error, false);
  assert.doesNotMatch(res.text, STACK_TRACE, 'no stack trace in the answer');
}

describe('REST API', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let api: ReturnType<typeof request>;
  const domain = { name: 'VerifiableFL', version: '1', chainId: 31337 };

  /**
   * A fresh iris task (admin), returned as the API answers it. float32 unless asked: these tests
   * forge bodies byte by byte as float32 vectors (the int8 default has its own tests).
   */
  async function newTask(over: Record<string, unknown> = {}): Promise<Task> {
    const res = await api.post('/v1/tasks').set(auth).send({ name: 'iris', model: 'iris-mlp', seed: 11, wire: { codec: 'float32' }, ...over });
    assert.equal(res.status, 201, res.text);
    return Task.parse(res.body);
  }
  async function openRound(task: number, body: Record<string, unknown> = { durationSeconds: 60, minClients: 1, maxClients: 10 }): Promise<Round> {
    const res = await api.post(`/v1/tasks/${task}/rounds`).set(auth).send(body);
    assert.equal(res.status, 201, res.text);
    return Round.parse(res.body);
  }
  const targetOf = (t: Task, r: Round): UpdateTarget => ({ task: t.id, round: r.round, baseHash: r.baseHash, domain: t.eip712 });

  before(async () => {
    env = await startTestCoordinator();
    api = request(env.c.url);
  });
  after(async () => env.cleanup());

  describe('health and OpenAPI', () => {
    test('GET /v1/health reports ok with Redis up', async () => {
      const res = await api.get('/v1/health');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: 'ok', redis: 'up' });
    });

    test('GET /v1/openapi.json documents exactly the routes the app serves', async () => {
      const res = await api.get('/v1/openapi.json');
      assert.equal(res.status, 200);
      assert.equal(res.body.openapi, '3.1.0');
      const documented = new Set<string>();
      for (const [path, ops] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
        for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`);
      }
      // The routes as Express knows them, ':param' rewritten to OpenAPI's '{param}'.
      const app = createApp(env.c.ctx, { adminToken: ADMIN }) as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
      const served = new Set<string>();
      for (const layer of app.router.stack) {
        if (!layer.route) continue;
        for (const [m, on] of Object.entries(layer.route.methods)) if (on) served.add(`${m.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      }
      assert.ok(served.size >= 11, `found ${served.size} routes`);
      assert.deepEqual([...served].filter((r) => !documented.has(r)), [], 'served but not documented');
      assert.deepEqual([...documented].filter((r) => !served.has(r)), [], 'documented but not served');
      for (const name of ['Task', 'Round', 'Error', 'CreateTaskBody', 'OpenRoundBody', 'RegisterClientBody']) {
        assert.ok(res.body.components.schemas[name], `component ${name}`);
      }
      // Admin routes declare the bearer scheme.
      assert.ok(res.body.paths['/v1/tasks'].post.security);
      assert.ok(res.body.paths['/v1/tasks/{task}/rounds'].post.security);
    });

    test('an unknown route is a JSON 404', async () => {
      assertError(await api.get('/v1/nope'), 404, 'NOT_FOUND');
      assertError(await api.delete('/v1/tasks/1'), 404, 'NOT_FOUND');
    });
  });

  describe('tasks', () => {
    test('POST /v1/tasks with a preset: 201, the task and a genesis checkpoint from the seed', async () => {
      const res = await api.post('/v1/tasks').set(auth).send({ name: 'iris preset', model: 'iris-mlp', seed: 5, limits: { maxNorm: 3 } });
      assert.equal(res.status, 201, res.text);
      const t = Task.parse(res.body);
      assert.equal(t.name, 'iris preset');
      assert.deepEqual(t.modelSpec, PRESET_MODELS['iris-mlp']);
      assert.equal(t.params, IRIS_PARAMS);
      assert.equal(t.lastRound, 0);
      assert.equal(t.checkpointHash, t.genesisHash);
      assert.equal(t.limits.maxNorm, 3);
      assert.deepEqual(t.strategy, { name: 'fedavg' });
      assert.deepEqual(t.training, { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'sgd' });
      assert.deepEqual(t.wire, { codec: 'int8', block: 256 }, 'open tasks default to the int8 codec');
      assert.deepEqual(t.eip712, domain);
      const cp = await api.get(`/v1/checkpoints/${t.genesisHash}`).buffer(true);
      assert.equal(cp.status, 200);
      const genesis = decodeCheckpoint(new Uint8Array(cp.body));
      assert.equal(genesis.round, 0);
      assert.equal(genesis.parentHash, null);
      assert.equal(genesis.task, t.id);
      assert.deepEqual([...genesis.weights], [...initialWeights(t.modelSpec, 5)]);
    });

    test('POST /v1/tasks with a custom ModelSpec: 201 and the parameter count of that spec', async () => {
      const model = {
        inputShape: [6, 6, 1],
        classes: 2,
        layers: [
          { type: 'conv2d', filters: 2, kernelSize: 3 },
          { type: 'maxPooling2d', poolSize: 2 },
          { type: 'flatten' },
          { type: 'dense', units: 2, activation: 'softmax' },
        ],
      };
      const res = await api.post('/v1/tasks').set(auth).send({ name: 'tiny cnn', model, strategy: { name: 'trimmed-mean', trimFraction: 0.2 } });
      assert.equal(res.status, 201, res.text);
      const t = Task.parse(res.body);
      // conv 3*3*1*2 + 2 = 20; 4x4x2 -> pool -> 2x2x2 = 8; dense 8*2 + 2 = 18.
      assert.equal(t.params, 38);
      assert.deepEqual(t.modelSpec.layers[0], { type: 'conv2d', filters: 2, kernelSize: 3, strides: 1, padding: 'valid', activation: 'relu' });
      assert.deepEqual(t.strategy, { name: 'trimmed-mean', trimFraction: 0.2 });
      const got = await api.get(`/v1/tasks/${t.id}`);
      assert.deepEqual(got.body, res.body);
    });

    test('POST /v1/tasks without a token, or with a wrong one, is 401 and creates nothing', async () => {
      const before = (await api.get('/v1/tasks')).body.tasks.length;
      assertError(await api.post('/v1/tasks').send({ name: 'x', model: 'iris-mlp' }), 401, 'UNAUTHORIZED');
      assertError(await api.post('/v1/tasks').set('authorization', 'Bearer wrong-token-123').send({ name: 'x', model: 'iris-mlp' }), 401, 'UNAUTHORIZED');
      assertError(await api.post('/v1/tasks').set('authorization', ADMIN).send({ name: 'x', model: 'iris-mlp' }), 401, 'UNAUTHORIZED');
      assertError(await api.post('/v1/tasks').set('authorization', `Bearer ${ADMIN}x`).send({ name: 'x', model: 'iris-mlp' }), 401, 'UNAUTHORIZED');
      assert.equal((await api.get('/v1/tasks')).body.tasks.length, before);
    });

    test('with no ADMIN_TOKEN configured, admin routes are closed to every token', async () => {
      const closed = request(createApp(env.c.ctx, { adminToken: undefined }));
      assertError(await closed.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp' }), 401, 'ADMIN_DISABLED');
      assertError(await closed.post('/v1/tasks').set('authorization', 'Bearer ').send({ name: 'x', model: 'iris-mlp' }), 401, 'ADMIN_DISABLED');
      assertError(await closed.post('/v1/tasks/1/rounds').set(auth).send({}), 401, 'ADMIN_DISABLED');
    });

    const malformedTasks: [string, () => request.Test][] = [
      ['name of the wrong type', () => api.post('/v1/tasks').set(auth).send({ name: 5, model: 'iris-mlp' })],
      ['seed of the wrong type', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', seed: '1' })],
      ['negative seed', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', seed: -1 })],
      ['empty name', () => api.post('/v1/tasks').set(auth).send({ name: '', model: 'iris-mlp' })],
      ['missing model', () => api.post('/v1/tasks').set(auth).send({ name: 'x' })],
      ['unknown top-level field', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', owner: 'me' })],
      ['unknown preset', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'resnet-50' })],
      ['bad optimizer', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', training: { optimizer: 'rmsprop' } })],
      ['unknown strategy', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', strategy: { name: 'fedprox' } })],
      [
        'model spec: dense after conv without flatten',
        () =>
          api.post('/v1/tasks').set(auth).send({
            name: 'x',
            model: { inputShape: [8, 8, 1], classes: 2, layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'dense', units: 2 }] },
          }),
      ],
      ['model spec: last layer units != classes', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: { inputShape: [4], classes: 3, layers: [{ type: 'dense', units: 2 }] } })],
      ['model spec: over 50M parameters', () => api.post('/v1/tasks').set(auth).send({ name: 'x', model: { inputShape: [4096], classes: 2, layers: [{ type: 'dense', units: 65536 }, { type: 'dense', units: 2 }] } })],
      ['invalid JSON text', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').send('{"name": "x", "model":')],
      ['array body', () => api.post('/v1/tasks').set(auth).send([{ name: 'x', model: 'iris-mlp' }])],
      ['empty body', () => api.post('/v1/tasks').set(auth)],
      ['empty JSON body', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').send('')],
      ['JSON string body', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').send('"iris-mlp"')],
      ['null body', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').send('null')],
      ['JSON as text/plain', () => api.post('/v1/tasks').set(auth).set('content-type', 'text/plain').send('{"name":"x","model":"iris-mlp"}')],
    ];
    for (const [name, send] of malformedTasks) {
      test(`POST /v1/tasks rejects a malformed body (${name}) with 400 and creates nothing`, async () => {
        const before = (await api.get('/v1/tasks')).body.tasks.length;
        const res = await send();
        assertError(res, 400);
        assert.ok(['VALIDATION_FAILED', 'BAD_JSON'].includes(res.body.error.code), res.text);
        assert.equal((await api.get('/v1/tasks')).body.tasks.length, before);
      });
    }

    test('validation errors name the offending field', async () => {
      const res = await api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', seed: 'one' });
      assertError(res, 400, 'VALIDATION_FAILED');
      assert.match(res.body.error.message, /seed/);
      assert.ok(Array.isArray(res.body.error.details));
      const bad = await api.post('/v1/tasks').set(auth).set('content-type', 'application/json').send('{oops');
      assertError(bad, 400, 'BAD_JSON');
    });

    test('unknown fields nested in the body are rejected too (a typo must not silently drop a setting)', async () => {
      // "maxnorm" for "maxNorm": accepted silently, the task would run with no norm limit at all.
      assertError(await api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', limits: { maxnorm: 5 } }), 400, 'VALIDATION_FAILED');
      assertError(await api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', training: { learningrate: 0.5 } }), 400, 'VALIDATION_FAILED');
      assertError(await api.post('/v1/tasks').set(auth).send({ name: 'x', model: 'iris-mlp', strategy: { name: 'fedadam', serverlr: 1 } }), 400, 'VALIDATION_FAILED');
      assertError(
        await api.post('/v1/tasks').set(auth).send({ name: 'x', model: { inputShape: [4], classes: 3, layers: [{ type: 'dense', units: 3, activaton: 'softmax' }] } }),
        400,
        'VALIDATION_FAILED',
      );
    });

    test('GET /v1/tasks lists the created tasks in id order', async () => {
      const a = await newTask({ name: 'list-a' });
      const b = await newTask({ name: 'list-b' });
      const res = await api.get('/v1/tasks');
      assert.equal(res.status, 200);
      const tasks = res.body.tasks.map((t: unknown) => Task.parse(t));
      const ids = tasks.map((t: Task) => t.id);
      assert.deepEqual(ids, [...ids].sort((x: number, y: number) => x - y));
      assert.ok(ids.includes(a.id) && ids.includes(b.id));
      assert.equal(tasks.find((t: Task) => t.id === b.id).name, 'list-b');
    });

    test('GET /v1/tasks/:task: 200 for a task, 404 for an unknown one, 400 for a malformed id', async () => {
      const t = await newTask();
      const res = await api.get(`/v1/tasks/${t.id}`);
      assert.equal(res.status, 200);
      assert.deepEqual(Task.parse(res.body), t);
      assertError(await api.get('/v1/tasks/999999'), 404, 'NOT_FOUND');
      for (const bad of ['abc', '0', '-1', '1.5', '1e99', '%20']) assertError(await api.get(`/v1/tasks/${bad}`), 400, 'VALIDATION_FAILED');
    });
  });

  describe('clients', () => {
    const challenge = async (task: number, address: string) => {
      const r = await api.post(`/v1/tasks/${task}/clients/challenge`).send({ address });
      assert.equal(r.status, 201, r.text);
      return r.body as { task: number; address: string; nonce: string; expiresAt: number };
    };
    /** A registration body: a fresh challenge for `address`, signed by `signer` (the address's key by default). */
    const signed = async (t: { id: number; eip712: { name: string; version: string; chainId: number } }, address: BaseWallet, signer: BaseWallet = address, over: Partial<{ task: number }> = {}) => {
      const c = await challenge(t.id, address.address);
      const signature = await signRegistration(signer, t.eip712, { ...c, ...over });
      return { address: address.address, nonce: c.nonce, expiresAt: c.expiresAt, signature };
    };

    test('POST /v1/tasks/:task/clients: 201 on first registration, 200 on a repeat (each with a fresh challenge)', async () => {
      const t = await newTask();
      const w = Wallet.createRandom();
      const c = await challenge(t.id, w.address);
      assert.equal(c.task, t.id);
      assert.equal(c.address, w.address.toLowerCase());
      assert.match(c.nonce, /^0x[0-9a-f]{64}$/);
      assert.ok(c.expiresAt > Date.now() / 1000);
      const first = await api.post(`/v1/tasks/${t.id}/clients`).send({ address: w.address, nonce: c.nonce, expiresAt: c.expiresAt, signature: await signRegistration(w, t.eip712, c) });
      assert.equal(first.status, 201, first.text);
      assert.deepEqual(first.body, { address: w.address.toLowerCase(), created: true });
      const again = await api.post(`/v1/tasks/${t.id}/clients`).send(await signed(t, w));
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, { address: w.address.toLowerCase(), created: false });
    });

    test('a challenge is single-use: replaying a registration is 400 CHALLENGE_UNKNOWN', async () => {
      const t = await newTask();
      const w = Wallet.createRandom();
      const body = await signed(t, w);
      assert.equal((await api.post(`/v1/tasks/${t.id}/clients`).send(body)).status, 201);
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send(body), 400, 'CHALLENGE_UNKNOWN');
      // Consumed even when the attempt fails: a bad signature burns the challenge too.
      const other = await signed(t, w, Wallet.createRandom());
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send(other), 400, 'BAD_SIGNATURE');
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send({ ...other, signature: (await signed(t, w)).signature }), 400, 'CHALLENGE_UNKNOWN');
    });

    test('a challenge belongs to its address, task and expiry, and is never issued for an unknown task', async () => {
      const t = await newTask();
      const t2 = await newTask();
      const [w, v] = [Wallet.createRandom(), Wallet.createRandom()];
      const forW = await signed(t, w);
      // Another address presenting w's challenge (signed by itself): no such challenge for it.
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send({ ...forW, address: v.address, signature: await signRegistration(v, t.eip712, { task: t.id, address: v.address, nonce: forW.nonce, expiresAt: forW.expiresAt }) }), 400, 'CHALLENGE_UNKNOWN');
      // w's challenge on another task.
      assertError(await api.post(`/v1/tasks/${t2.id}/clients`).send(await signed(t, w)), 400, 'CHALLENGE_UNKNOWN');
      // A changed expiry.
      const moved = await signed(t, w);
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send({ ...moved, expiresAt: moved.expiresAt + 3600 }), 400, 'CHALLENGE_UNKNOWN');
      assertError(await api.post('/v1/tasks/999999/clients/challenge').send({ address: w.address }), 404, 'NOT_FOUND');
      for (const body of [{}, { address: '0x12' }, { address: w.address, extra: 1 }]) assertError(await api.post(`/v1/tasks/${t.id}/clients/challenge`).send(body), 400, 'VALIDATION_FAILED');
    });

    test('a registration signed by another key, or over another task, is 400 BAD_SIGNATURE', async () => {
      const t = await newTask();
      const w = Wallet.createRandom();
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send(await signed(t, w, Wallet.createRandom())), 400, 'BAD_SIGNATURE');
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send(await signed(t, w, w, { task: t.id + 1 })), 400, 'BAD_SIGNATURE');
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).send({ ...(await signed(t, w)), signature: `0x${'00'.repeat(65)}` }), 400, 'BAD_SIGNATURE');
      // None of those registered w: a real registration is still "created".
      assert.equal((await api.post(`/v1/tasks/${t.id}/clients`).send(await signed(t, w))).status, 201);
    });

    test('malformed registrations are 400, an unknown task is 404', async () => {
      const t = await newTask();
      const w = Wallet.createRandom();
      const ok = await signed(t, w);
      for (const body of [{}, { address: w.address }, { signature: ok.signature }, { ...ok, address: '0x1234' }, { ...ok, signature: '0xdead' }, { ...ok, nonce: '0x12' }, { ...ok, expiresAt: 'soon' }, { ...ok, extra: 1 }, [w.address, ok.signature]]) {
        assertError(await api.post(`/v1/tasks/${t.id}/clients`).send(body), 400, 'VALIDATION_FAILED');
      }
      assertError(await api.post(`/v1/tasks/${t.id}/clients`).set('content-type', 'application/json').send('{"address"'), 400, 'BAD_JSON');
      assertError(await api.post('/v1/tasks/999999/clients').send(ok), 404, 'NOT_FOUND');
      assertError(await api.post('/v1/tasks/abc/clients').send(ok), 400, 'VALIDATION_FAILED');
    });
  });

  describe('rounds', () => {
    test('GET /v1/tasks/:task/rounds/current is 404 NO_ROUND before the first round', async () => {
      const t = await newTask();
      assertError(await api.get(`/v1/tasks/${t.id}/rounds/current`), 404, 'NO_ROUND');
      assertError(await api.get('/v1/tasks/999999/rounds/current'), 404, 'NOT_FOUND');
    });

    test('POST /v1/tasks/:task/rounds: 201 with the round on the newest checkpoint', async () => {
      const t = await newTask();
      const res = await api.post(`/v1/tasks/${t.id}/rounds`).set(auth).send({ durationSeconds: 120, minClients: 2, maxClients: 4, training: { learningRate: 0.5 } });
      assert.equal(res.status, 201, res.text);
      const r = Round.parse(res.body);
      assert.equal(r.task, t.id);
      assert.equal(r.round, 1);
      assert.equal(r.state, 'open');
      assert.equal(r.baseHash, t.checkpointHash);
      assert.equal(r.minClients, 2);
      assert.equal(r.maxClients, 4);
      assert.equal(r.training.learningRate, 0.5);
      assert.equal(r.training.batchSize, t.training.batchSize, 'unset training fields come from the task');
      assert.deepEqual([r.received, r.accepted, r.rejected], [0, 0, 0]);
      const span = Date.parse(r.deadline) - Date.parse(r.openedAt);
      assert.equal(span, 120_000);
      assert.equal((await api.get(`/v1/tasks/${t.id}`)).body.lastRound, 1);

      const current = await api.get(`/v1/tasks/${t.id}/rounds/current`);
      assert.equal(current.status, 200);
      assert.equal(current.body.round, 1);
      const byNumber = await api.get(`/v1/tasks/${t.id}/rounds/1`);
      assert.equal(byNumber.status, 200);
      assert.deepEqual(byNumber.body, current.body);
    });

    test('POST /v1/tasks/:task/rounds with no body opens a round with the defaults', async () => {
      const t = await newTask();
      const res = await api.post(`/v1/tasks/${t.id}/rounds`).set(auth);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.minClients, 1);
      assert.equal(res.body.maxClients, 1000);
      assert.equal(Date.parse(res.body.deadline) - Date.parse(res.body.openedAt), 300_000);
    });

    test('a second round while one is open is 409 and changes nothing', async () => {
      const t = await newTask();
      await openRound(t.id);
      assertError(await api.post(`/v1/tasks/${t.id}/rounds`).set(auth).send({ durationSeconds: 60 }), 409, 'ROUND_ALREADY_OPEN');
      assert.equal((await api.get(`/v1/tasks/${t.id}`)).body.lastRound, 1);
      assertError(await api.get(`/v1/tasks/${t.id}/rounds/2`), 404, 'NOT_FOUND');
    });

    test('admins opening at once get one round: the others are 409, the counter moves by one', async () => {
      const t = await newTask();
      const answers = await Promise.all(Array.from({ length: 6 }, () => api.post(`/v1/tasks/${t.id}/rounds`).set(auth).send({ durationSeconds: 60 })));
      assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409]);
      for (const r of answers.filter((a) => a.status === 409)) assertError(r, 409, 'ROUND_ALREADY_OPEN');
      assert.equal(answers.find((r) => r.status === 201)!.body.round, 1);
      assert.equal((await api.get(`/v1/tasks/${t.id}`)).body.lastRound, 1);
    });

    test('opening a round: 400 for bad bodies, 401 without the admin token, 404 for an unknown task', async () => {
      const t = await newTask();
      for (const body of [
        { minClients: 5, maxClients: 2 },
        { durationSeconds: -1 },
        { durationSeconds: 8 * 86400 },
        { minClients: 0 },
        { maxClients: 1.5 },
        { training: { learningRate: 'fast' } },
        { rounds: 3 },
      ]) {
        assertError(await api.post(`/v1/tasks/${t.id}/rounds`).set(auth).send(body), 400, 'VALIDATION_FAILED');
      }
      const tooMany = await api.post(`/v1/tasks/${t.id}/rounds`).set(auth).send({ minClients: 5, maxClients: 2 });
      assert.match(tooMany.body.error.message, /minClients/);
      assertError(await api.post(`/v1/tasks/${t.id}/rounds`).set(auth).send([]), 400);
      assertError(await api.post(`/v1/tasks/${t.id}/rounds`).set(auth).set('content-type', 'application/json').send('{'), 400, 'BAD_JSON');
      assertError(await api.post(`/v1/tasks/${t.id}/rounds`).send({}), 401, 'UNAUTHORIZED');
      assertError(await api.post(`/v1/tasks/${t.id}/rounds`).set('authorization', 'Bearer nope-nope').send({}), 401, 'UNAUTHORIZED');
      assertError(await api.post('/v1/tasks/999999/rounds').set(auth).send({}), 404, 'NOT_FOUND');
      assertError(await api.get(`/v1/tasks/${t.id}/rounds/current`), 404, 'NO_ROUND');
    });

    test('GET /v1/tasks/:task/rounds/:round: 404 unknown, 400 malformed', async () => {
      const t = await newTask();
      await openRound(t.id);
      assertError(await api.get(`/v1/tasks/${t.id}/rounds/2`), 404, 'NOT_FOUND');
      assertError(await api.get('/v1/tasks/999999/rounds/1'), 404, 'NOT_FOUND');
      for (const bad of ['abc', '0', '-3', '2.5']) assertError(await api.get(`/v1/tasks/${t.id}/rounds/${bad}`), 400, 'VALIDATION_FAILED');
    });
  });

  describe('update uploads', () => {
    let t: Task;
    let r: Round;
    let w: BaseWallet;
    before(async () => {
      t = await newTask();
      w = Wallet.createRandom();
      assert.equal((await registerWallet(env.c.url, t.id, w, t.eip712)).status, 201);
      r = await openRound(t.id, { durationSeconds: 120, minClients: 1, maxClients: 50 });
    });
    const put = (task: number, round: number) => api.put(`/v1/tasks/${task}/rounds/${round}/updates`);

    test('PUT a good update: 202 with the job id and hash, and the worker accepts it', async () => {
      const u = await buildUpdate({ target: targetOf(t, r), wallet: w, delta: randomDelta(IRIS_PARAMS, 1), numSamples: 25 });
      const res = await put(t.id, r.round).set(u.headers).send(Buffer.from(u.bytes));
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.updateHash, u.updateHash);
      assert.equal(typeof res.body.jobId, 'string');
      const d = await decisionOf(env.c.url, t.id, r.round, res.body.jobId);
      assert.equal(d.status, 'accepted', JSON.stringify(d));
      assert.equal((await api.get(`/v1/tasks/${t.id}/rounds/${r.round}`)).body.accepted, 1);
      if (d.status === 'accepted') {
        assert.equal(d.update.client, w.address.toLowerCase());
        assert.equal(d.update.updateHash, u.updateHash);
        assert.equal(d.update.numSamples, 25);
      }
    });

    test('a body that is not application/octet-stream is 415', async () => {
      const u = await buildUpdate({ target: targetOf(t, r), wallet: Wallet.createRandom(), delta: randomDelta(IRIS_PARAMS, 2) });
      const { 'content-type': _ct, ...headers } = u.headers;
      assertError(await put(t.id, r.round).set(headers).set('content-type', 'application/json').send(JSON.stringify([...randomDelta(IRIS_PARAMS, 2)])), 415, 'UNSUPPORTED_MEDIA_TYPE');
      assertError(await put(t.id, r.round).set(headers).set('content-type', 'text/plain').send(Buffer.from(u.bytes).toString('latin1')), 415, 'UNSUPPORTED_MEDIA_TYPE');
      assertError(await put(t.id, r.round).set(headers), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    test('missing or malformed metadata headers are 400', async () => {
      const u = await buildUpdate({ target: targetOf(t, r), wallet: Wallet.createRandom(), delta: randomDelta(IRIS_PARAMS, 3) });
      const variants: Record<string, string | undefined>[] = [
        { 'x-fl-signature': undefined },
        { 'x-fl-client': undefined },
        { 'x-fl-client': '0x1234' },
        { 'x-fl-base-hash': 'genesis' },
        { 'x-fl-update-hash': '0x' + 'g'.repeat(64) },
        { 'x-fl-num-samples': 'many' },
        { 'x-fl-num-samples': '-1' },
        { 'x-fl-num-samples': '2.5' },
        { 'x-fl-signature': '0xabcd' },
      ];
      for (const change of variants) {
        const headers: Record<string, string> = { ...u.headers };
        for (const [k, v] of Object.entries(change)) {
          if (v === undefined) delete headers[k];
          else headers[k] = v;
        }
        const res = await put(t.id, r.round).set(headers).send(Buffer.from(u.bytes));
        assertError(res, 400, 'VALIDATION_FAILED');
        assert.match(res.body.error.message, new RegExp(Object.keys(change)[0]!), `the message names ${Object.keys(change)[0]}`);
      }
    });

    test('a body of the wrong length is 400 BAD_LENGTH', async () => {
      for (const n of [0, 4, (IRIS_PARAMS - 1) * 4, IRIS_PARAMS * 4 - 2]) {
        const bytes = new Uint8Array(n).fill(1);
        const u = await buildUpdate({ target: targetOf(t, r), wallet: w, delta: bytes });
        assertError(await put(t.id, r.round).set(u.headers).send(Buffer.from(bytes)), 400, 'BAD_LENGTH');
      }
    });

    test('a body larger than the model is 413', async () => {
      const bytes = encodeFloat32(randomDelta(IRIS_PARAMS + 1, 4));
      const u = await buildUpdate({ target: targetOf(t, r), wallet: w, delta: bytes });
      assertError(await put(t.id, r.round).set(u.headers).send(Buffer.from(bytes)), 413, 'PAYLOAD_TOO_LARGE');
      const huge = new Uint8Array(4 << 20);
      assertError(await put(t.id, r.round).set(u.headers).send(Buffer.from(huge)), 413, 'PAYLOAD_TOO_LARGE');
    });

    test('a chunked body (no content-length) larger than the model is a 413 answer too, not a dropped connection', async () => {
      const u = await buildUpdate({ target: targetOf(t, r), wallet: w, delta: randomDelta(IRIS_PARAMS, 5) });
      const url = new URL(`/v1/tasks/${t.id}/rounds/${r.round}/updates`, env.c.url);
      const answer = await new Promise<{ status: number; text: string } | { error: string }>((resolve) => {
        const req = http.request(url, { method: 'PUT', headers: { ...u.headers, 'transfer-encoding': 'chunked' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', (e) => resolve({ error: e.message }));
        });
        req.on('error', (e) => resolve({ error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
        // Two model-sized chunks: the second crosses the limit mid-stream.
        req.write(Buffer.from(u.bytes));
        setTimeout(() => req.end(Buffer.from(u.bytes)), 50);
      });
      assert.ok(!('error' in answer), `the client got no HTTP answer: ${'error' in answer ? answer.error : ''}`);
      if (!('error' in answer)) {
        assert.equal(answer.status, 413, answer.text);
        assert.equal(JSON.parse(answer.text).error.code, 'PAYLOAD_TOO_LARGE');
      }
    });

    test('a body that does not hash to the signed update hash is 400 HASH_MISMATCH', async () => {
      const signed = randomDelta(IRIS_PARAMS, 6);
      const u = await buildUpdate({ target: targetOf(t, r), wallet: w, delta: signed });
      const other = encodeFloat32(randomDelta(IRIS_PARAMS, 7));
      const res = await put(t.id, r.round).set(u.headers).send(Buffer.from(other));
      assertError(res, 400, 'HASH_MISMATCH');
    });

    test('a well-formed upload from a wallet not registered for the task is 403 UNKNOWN_CLIENT, and nothing is stored', async () => {
      const stranger = Wallet.createRandom();
      const u = await buildUpdate({ target: targetOf(t, r), wallet: stranger, delta: randomDelta(IRIS_PARAMS, 9) });
      assertError(await put(t.id, r.round).set(u.headers).send(Buffer.from(u.bytes)), 403, 'UNKNOWN_CLIENT');
      assert.equal(await env.c.ctx.redis.exists(blobKey(env.config.prefix, stranger.address, u.updateHash)), 0);
    });

    test('a stranger is refused on its headers, before its body counts: wrong length or wrong bytes are still 403 UNKNOWN_CLIENT', async () => {
      const stranger = Wallet.createRandom();
      const u = await buildUpdate({ target: targetOf(t, r), wallet: stranger, delta: randomDelta(IRIS_PARAMS, 10) });
      assertError(await put(t.id, r.round).set(u.headers).send(Buffer.from(u.bytes.subarray(4))), 403, 'UNKNOWN_CLIENT');
      assertError(await put(t.id, r.round).set(u.headers).send(Buffer.from(encodeFloat32(randomDelta(IRIS_PARAMS, 11)))), 403, 'UNKNOWN_CLIENT');
      // The same short body from a registered wallet is judged on its length: the 403s came from the sender.
      const ok = await buildUpdate({ target: targetOf(t, r), wallet: w, delta: randomDelta(IRIS_PARAMS, 12) });
      assertError(await put(t.id, r.round).set(ok.headers).send(Buffer.from(ok.bytes.subarray(4))), 400, 'BAD_LENGTH');
    });

    test('an upload to an unknown round or task is 404; a malformed path is 400', async () => {
      const u = await buildUpdate({ target: { ...targetOf(t, r), round: 99 }, wallet: w, delta: randomDelta(IRIS_PARAMS, 8) });
      assertError(await put(t.id, 99).set(u.headers).send(Buffer.from(u.bytes)), 404, 'NOT_FOUND');
      assertError(await put(999999, 1).set(u.headers).send(Buffer.from(u.bytes)), 404, 'NOT_FOUND');
      assertError(await put(t.id, 0).set(u.headers).send(Buffer.from(u.bytes)), 400, 'VALIDATION_FAILED');
    });

    test('none of the refused uploads reached the round', async () => {
      const round = Round.parse((await api.get(`/v1/tasks/${t.id}/rounds/${r.round}`)).body);
      assert.equal(round.accepted, 1);
      assert.equal(round.rejected, 0);
      assert.equal(round.received, 1);
    });
  });

  describe('checkpoints', () => {
    test('GET /v1/checkpoints/:hash: 200 with bytes that hash to the name', async () => {
      const t = await newTask({ seed: 99 });
      const res = await api.get(`/v1/checkpoints/${t.genesisHash}`).buffer(true);
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/octet-stream/);
      assert.equal(res.headers.etag, `"${t.genesisHash}"`);
      assert.match(String(res.headers['cache-control']), /immutable/);
      const bytes = new Uint8Array(res.body as Buffer);
      assert.equal(await contentHash(bytes), t.genesisHash);
      assert.deepEqual([...decodeCheckpoint(bytes).weights], [...initialWeights(t.modelSpec as ModelSpec, 99)]);
    });

    test('an aggregated round serves its new checkpoint, whose parent is the base', async () => {
      const t = await newTask();
      const w = Wallet.createRandom();
      await registerWallet(env.c.url, t.id, w, t.eip712);
      const r = await openRound(t.id, { durationSeconds: 60, minClients: 1, maxClients: 1 });
      const delta = randomDelta(IRIS_PARAMS, 10);
      const u = await buildUpdate({ target: targetOf(t, r), wallet: w, delta });
      assert.equal((await api.put(`/v1/tasks/${t.id}/rounds/${r.round}/updates`).set(u.headers).send(Buffer.from(u.bytes))).status, 202);
      const done = await waitFor('aggregated', async () => {
        const s = (await api.get(`/v1/tasks/${t.id}/rounds/${r.round}`)).body;
        return s.state === 'aggregated' ? Round.parse(s) : null;
      }, 10_000);
      const res = await api.get(`/v1/checkpoints/${done.checkpointHash}`).buffer(true);
      assert.equal(res.status, 200);
      const bytes = new Uint8Array(res.body as Buffer);
      assert.equal(await contentHash(bytes), done.checkpointHash);
      const cp = decodeCheckpoint(bytes);
      assert.equal(cp.parentHash, t.genesisHash);
      assert.equal(cp.round, 1);
      const genesis = initialWeights(t.modelSpec as ModelSpec, t.seed);
      for (let i = 0; i < IRIS_PARAMS; i++) assert.ok(Math.abs(cp.weights[i]! - (genesis[i]! + delta[i]!)) < 1e-6);
      assert.equal((await api.get(`/v1/tasks/${t.id}`)).body.checkpointHash, done.checkpointHash);
    });

    test('an unknown hash is 404, a malformed one 400', async () => {
      assertError(await api.get(`/v1/checkpoints/0x${'12'.repeat(32)}`), 404, 'NOT_FOUND');
      for (const bad of ['abc', `0x${'AB'.repeat(32)}`, `0x${'ab'.repeat(31)}`, `${'ab'.repeat(32)}`, `0x${'ab'.repeat(33)}`, '..%2F..%2Fetc%2Fpasswd']) {
        assertError(await api.get(`/v1/checkpoints/${bad}`), 400);
      }
    });
  });

  describe('robustness', () => {
    test('no malformed request produces a 5xx, and every error is a clean JSON error', async () => {
      const t = await newTask();
      await openRound(t.id);
      const w = Wallet.createRandom();
      const u = await buildUpdate({ target: { task: t.id, round: 1, baseHash: t.checkpointHash, domain: t.eip712 }, wallet: w, delta: randomDelta(IRIS_PARAMS, 12) });
      const bodies: (string | Buffer)[] = [
        '',
        '{',
        '}',
        'null',
        'true',
        '0',
        '"x"',
        '[]',
        '[1,2,3]',
        '{}',
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '{"name":{"$gt":""},"model":"iris-mlp"}',
        '{"name":"x","model":{"inputShape":[],"classes":2,"layers":[]}}',
        '{"name":"x","model":{"inputShape":[4],"classes":2,"layers":[{"type":"dense","units":-2}]}}',
        '{"name":"x","model":{"inputShape":[4],"classes":2,"layers":[{"type":"dense","units":2.5},{"type":"dense","units":2}]}}',
        '{"name":"x","model":{"inputShape":[4],"classes":2,"layers":[{"type":"pool"}]}}',
        '{"name":"x","model":{"inputShape":"4","classes":2,"layers":[{"type":"dense","units":2}]}}',
        '{"name":"x","model":{"inputShape":[1e400],"classes":2,"layers":[{"type":"dense","units":2}]}}',
        '{"address":"0x0000000000000000000000000000000000000000","signature":"0x' + 'ff'.repeat(65) + '"}',
        '{"durationSeconds":1e999}',
        '{"minClients":"2"}',
        '{"training":null}',
        '['.repeat(5000) + ']'.repeat(5000),
        '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
        Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
        Buffer.from('{"name":"\ud800"}'),
      ];
      const targets: [string, string, boolean][] = [
        ['post', '/v1/tasks', true],
        ['post', `/v1/tasks/${t.id}/clients`, false],
        ['post', `/v1/tasks/${t.id}/rounds`, true],
        ['post', '/v1/tasks/abc/clients', false],
      ];
      const statuses = new Set<number>();
      for (const [, path, admin] of targets) {
        for (const body of bodies) {
          for (const type of ['application/json', 'application/json; charset=latin1', 'text/plain']) {
            let req = api.post(path).set('content-type', type);
            if (admin) req = req.set(auth);
            const res = await req.send(body);
            statuses.add(res.status);
            assert.ok(res.status >= 400 && res.status < 500, `${path} ${type} ${String(body).slice(0, 60)} -> ${res.status} ${res.text}`);
            assertError(res, res.status);
          }
        }
      }
      // Path and header garbage.
      const weird: [string, () => request.Test][] = [
        ['bad percent-encoding in a path', () => api.get('/v1/tasks/%E0%A4%A')],
        ['NUL in a path', () => api.get('/v1/checkpoints/%00')],
        ['huge task id', () => api.get('/v1/tasks/99999999999999999999999')],
        ['gzip that is not gzip', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').set('content-encoding', 'gzip').send('{"name":"x"}')],
        ['unknown content-encoding', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').set('content-encoding', 'zstd-x').send('{}')],
        ['JSON over 1 MB', () => api.post('/v1/tasks').set(auth).set('content-type', 'application/json').send(`{"name":"${'x'.repeat(1_100_000)}"}`)],
        ['update with every header garbage', () => api.put(`/v1/tasks/${t.id}/rounds/1/updates`).set('content-type', 'application/octet-stream').set({ 'x-fl-client': '\u00ff', 'x-fl-num-samples': 'NaN', 'x-fl-signature': '0x', 'x-fl-base-hash': '', 'x-fl-update-hash': '0x00' }).send(Buffer.from(u.bytes))],
        ['update with num-samples past 1e12', () => api.put(`/v1/tasks/${t.id}/rounds/1/updates`).set({ ...u.headers, 'x-fl-num-samples': '1e13' }).send(Buffer.from(u.bytes))],
        ['update with an empty body', () => api.put(`/v1/tasks/${t.id}/rounds/1/updates`).set(u.headers).send(Buffer.alloc(0))],
        ['update to round 2^41', () => api.put(`/v1/tasks/${t.id}/rounds/${2 ** 41}/updates`).set(u.headers).send(Buffer.from(u.bytes))],
      ];
      for (const [name, send] of weird) {
        const res = await send();
        statuses.add(res.status);
        assert.ok(res.status >= 400 && res.status < 500, `${name} -> ${res.status} ${res.text}`);
        assertError(res, res.status);
      }
      assert.ok(!statuses.has(500));
      // ...and the service is still healthy.
      assert.equal((await api.get('/v1/health')).status, 200);
    });
  });
});
