import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Wallet, type BaseWallet } from 'ethers';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { signRegistration, Task } from '../../protocol/index.ts';
import { ADMIN, isolatedConfig, silentLog, startTestCoordinator } from '../helpers/env.ts';
import { adminPost } from '../helpers/updates.ts';

// Admin token checks (constant-time, fail closed) are in api.test.ts; these cover the rest of the
// access rules: headers, CORS, Redis-backed rate limits, body limits, no internals in errors.
describe('access protections', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('security headers on every response; no x-powered-by', async () => {
    const env = await startTestCoordinator();
    cleanups.push(env.cleanup);
    for (const path of ['/v1/health', '/v1/nope', '/dashboard/']) {
      const r = await fetch(`${env.c.url}${path}`);
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'.*script-src 'self'/, path);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(r.headers.get('x-frame-options'), 'SAMEORIGIN', path);
      assert.equal(r.headers.get('cross-origin-resource-policy'), 'same-origin', path);
      assert.equal(r.headers.get('x-powered-by'), null, path);
    }
  });

  test('CORS is off unless configured, then allows exactly the configured origins', async () => {
    const closed = await startTestCoordinator();
    cleanups.push(closed.cleanup);
    const plain = await fetch(`${closed.c.url}/v1/tasks`, { headers: { origin: 'https://app.example' } });
    assert.equal(plain.headers.get('access-control-allow-origin'), null);

    const open = await startTestCoordinator({ corsOrigins: ['https://app.example'] });
    cleanups.push(open.cleanup);
    const ok = await fetch(`${open.c.url}/v1/tasks`, { headers: { origin: 'https://app.example' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(ok.headers.get('cross-origin-resource-policy'), 'cross-origin');
    const other = await fetch(`${open.c.url}/v1/tasks`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(`${open.c.url}/v1/tasks`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
  });

  test('the per-IP limit is counted in Redis: two replicas on one prefix share it', async () => {
    const iso = await isolatedConfig({ rateLimitPerIpPerMin: 5 });
    const replicas: RunningCoordinator[] = [];
    cleanups.push(async () => {
      for (const r of replicas) await r.stop();
      await iso.cleanup();
    });
    for (let i = 0; i < 2; i++) replicas.push(await startCoordinator(iso.config, { log: silentLog() }));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${replicas[i % 2]!.url}/v1/tasks`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429], 'the sixth request, on either replica, is over the shared limit of 5');
    const limited = await fetch(`${replicas[1]!.url}/v1/health`);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After says when to come back');
    const body = (await limited.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'RATE_LIMITED');
  });

  test('the per-client limit counts each address on its own', async () => {
    const env = await startTestCoordinator({ rateLimitPerClientPerMin: 2 });
    cleanups.push(env.cleanup);
    const task = Task.parse(await adminPost(env.c.url, '/v1/tasks', { name: 'limits', model: 'iris-mlp' }));
    // Challenges count against the same per-client budget as registrations.
    const challenge = async (w: BaseWallet) =>
      fetch(`${env.c.url}/v1/tasks/${task.id}/clients/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: w.address }) });
    const register = async (w: BaseWallet) => {
      const c = await challenge(w);
      if (c.status !== 201) return c.status;
      const ch = (await c.json()) as { task: number; address: string; nonce: string; expiresAt: number };
      return (await fetch(`${env.c.url}/v1/tasks/${task.id}/clients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address: w.address, nonce: ch.nonce, expiresAt: ch.expiresAt, signature: await signRegistration(w, task.eip712, ch) }),
      })).status;
    };
    const [a, b] = [Wallet.createRandom(), Wallet.createRandom()];
    assert.deepEqual([await register(a), await register(a)], [201, 429], 'challenge + registration use up a budget of 2');
    assert.equal(await register(b), 201, 'another client has its own budget');
  });

  test('a registration challenge expires: after its lifetime it cannot be used', async () => {
    const env = await startTestCoordinator({ challengeTtlSeconds: 1 });
    cleanups.push(env.cleanup);
    const task = Task.parse(await adminPost(env.c.url, '/v1/tasks', { name: 'expiry', model: 'iris-mlp' }));
    const w = Wallet.createRandom();
    const c = (await (await fetch(`${env.c.url}/v1/tasks/${task.id}/clients/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: w.address }) })).json()) as { task: number; address: string; nonce: string; expiresAt: number };
    const signature = await signRegistration(w, task.eip712, c);
    await new Promise((r) => setTimeout(r, 2100));
    const late = await fetch(`${env.c.url}/v1/tasks/${task.id}/clients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: w.address, nonce: c.nonce, expiresAt: c.expiresAt, signature }) });
    assert.equal(late.status, 400);
    assert.match(((await late.json()) as { error: { code: string } }).error.code, /^CHALLENGE_(UNKNOWN|EXPIRED)$/);
  });

  test('bodies over the limit are refused with a JSON 413 before they are parsed', async () => {
    const env = await startTestCoordinator();
    cleanups.push(env.cleanup);
    const big = JSON.stringify({ name: 'x'.repeat(2 << 20), model: 'iris-mlp' });
    const r = await fetch(`${env.c.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: big });
    assert.equal(r.status, 413);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
  });

  test('an internal failure answers 500 with a code and no stack trace or internals', async () => {
    const env = await startTestCoordinator();
    cleanups.push(env.cleanup);
    await adminPost(env.c.url, '/v1/tasks', { name: 'x', model: 'iris-mlp' });
    // Cut the coordinator's Redis connection: the next read fails inside the route.
    env.c.ctx.redis.disconnect();
    const r = await fetch(`${env.c.url}/v1/tasks`);
    assert.equal(r.status, 500);
    const text = await r.text();
    assert.deepEqual(JSON.parse(text), { error: { code: 'INTERNAL', message: 'internal error' } });
    assert.doesNotMatch(text, /at .*\.ts|Error:|redis|ECONN|Connection/i);
    // A malformed body is the caller's error, also without internals.
    const bad = await fetch(`${env.c.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: '{"name":' });
    assert.equal(bad.status, 400);
    assert.doesNotMatch(await bad.text(), /at .*\.(ts|js)|SyntaxError/);
  });
});
