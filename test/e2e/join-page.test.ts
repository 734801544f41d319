/**
 * Data owners in a real browser (Debian's chromium driven by playwright-core) beside CLI data owners:
 * the /join page trains the MNIST CNN with TensorFlow.js in the page, signs with its own key or with
 * an injected EIP-1193 wallet, uploads over HTTP, follows the verdict, survives reloads and claims
 * its rewards on a real anvil; fl-audit then re-aggregates every committed round. Every request the
 * pages make is recorded and checked: none carries the owner's samples.
 *
 * The injected wallet is the one stand-in: no wallet extension can run headless here, so the test
 * exposes an EIP-1193 object whose signing and transactions are done by an ethers Wallet in this
 * process (real EIP-712 signatures, real transactions on anvil), the way an extension answers a page.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getBytes, keccak256, parseEther, Wallet, type TypedDataField } from 'ethers';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { attach } from '../../contracts/artifacts.ts';
import { wireBytes, type Round, type Task } from '../../protocol/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { ensureChromium, launchChromium, ROOT, runNode } from '../helpers/browser.ts';

const SHOTS = join(ROOT, 'test-results');
const SHARES = 5;

interface Recorded {
  page: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
}

describe('the /join page: browser data owners beside CLI ones', () => {
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let browser: Browser;
  let task: Task;
  let dir: string;
  const requests: Recorded[] = [];
  const problems: string[] = [];
  const cli: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    ensureChromium();
    dir = mkdtempSync(join(tmpdir(), 'fl-join-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    chain = await startChain();
    cleanups.push(() => chain.stop());
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(async () => chainClient.close());
    env = await startTestCoordinator({}, { chain: chainClient, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    task = await createTask(env.c.ctx, { name: 'mnist in the browser', model: 'mnist-cnn', training: { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam' }, rewards: { perRound: '1000000000000000000', budget: '5000000000000000000' }, seed: 3 });
    browser = await launchChromium();
    cleanups.push(() => browser.close());
  });
  after(async () => {
    for (const p of cli) if (p.exitCode === null) p.kill('SIGTERM');
    for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup failed:', e));
  });

  /** A fresh browser profile (its own IndexedDB) on the page; every request it makes is recorded. */
  async function owner(name: string, opts: { shard?: string; wallet?: Wallet } = {}): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ viewport: { width: 420, height: 1400 } });
    cleanups.push(() => ctx.close());
    ctx.on('request', (r) => requests.push({ page: name, method: r.method(), url: r.url(), headers: r.headers(), body: r.postDataBuffer() }));
    if (opts.wallet) await injectWallet(ctx, opts.wallet);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    await page.goto(`${env.c.url}/join/?task=${task.id}&backend=wasm${opts.shard ? `&shard=${opts.shard}` : ''}`);
    await page.locator('#address', { hasText: '0x' }).waitFor({ timeout: 60_000 });
    // The data controls come on once the page knows the task's shape (a file chosen earlier would have no task to fit).
    await page.locator(`body[data-task="${task.id}"]`).waitFor({ state: 'attached', timeout: 60_000 });
    return { ctx, page };
  }

  /** window.ethereum answered by `wallet` in this process: accounts, EIP-712 signatures, transactions; reads go to anvil. */
  async function injectWallet(ctx: BrowserContext, wallet: Wallet): Promise<void> {
    const signer = wallet.connect(chain.provider);
    await ctx.exposeFunction('__testWallet', async (method: string, params: unknown[]) => {
      switch (method) {
        case 'eth_requestAccounts':
        case 'eth_accounts':
          return [wallet.address.toLowerCase()];
        case 'eth_chainId':
          return `0x${chain.anvil.chainId.toString(16)}`;
        case 'eth_signTypedData_v4': {
          const t = JSON.parse(params[1] as string) as { domain: Record<string, unknown>; types: Record<string, TypedDataField[]>; message: Record<string, unknown> };
          delete t.types['EIP712Domain'];
          return wallet.signTypedData(t.domain, t.types, t.message);
        }
        case 'eth_sendTransaction': {
          const tx = params[0] as { to: string; data: string; value?: string; gas?: string };
          const sent = await signer.sendTransaction({ to: tx.to, data: tx.data, ...(tx.value ? { value: BigInt(tx.value) } : {}), ...(tx.gas ? { gasLimit: BigInt(tx.gas) } : {}) });
          return sent.hash;
        }
        default:
          return chain.provider.send(method, params ?? []);
      }
    });
    // A string, not a function: the test runner's TypeScript transform would add helpers the page lacks.
    await ctx.addInitScript(`window.ethereum = {
      isTestWallet: true,
      request: ({ method, params }) => window.__testWallet(method, params || []),
      on() {},
      removeListener() {},
    };`);
  }

  const logOf = (page: Page, round: number) => page.locator(`#round-log li[data-round="${round}"]`);
  const committed = (round: number) =>
    waitFor(`round ${round} committed`, async () => {
      const r = await env.c.ctx.rounds.get(task.id, round);
      if (r && (r.state === 'failed' || r.failureReason)) throw new Error(`round ${round} failed: ${r.failureReason}`);
      return r?.state === 'committed' ? r : null;
    }, 300_000, 200);
  const puts = (name: string, round: number) => requests.filter((r) => r.page === name && r.method === 'PUT' && r.url.endsWith(`/rounds/${round}/updates`));

  let a: Page;
  let b: Page;
  const walletB = new Wallet(Wallet.createRandom().privateKey);

  test('two browser owners and three CLI owners complete a round that is committed on chain', async () => {
    ({ page: a } = await owner('a', { shard: '3/5' }));
    ({ page: b } = await owner('b', { shard: '4/5', wallet: walletB }));
    assert.equal((await b.locator('#address').textContent())?.trim(), walletB.address.toLowerCase(), 'the injected wallet is the identity');
    assert.match((await a.locator('#identity-kind').textContent()) ?? '', /browser/);
    for (const p of [a, b]) {
      await p.click('#sample');
      await p.locator('#data-info', { hasText: 'samples loaded' }).waitFor({ timeout: 60_000 });
      await p.click('#join');
    }
    for (let i = 0; i < 3; i++) {
      const child = spawn(process.execPath, ['bin/fl-client.js', 'join', '--coordinator', env.c.url, '--task', String(task.id), '--mnist-shard', `${i}/${SHARES}`, '--rounds', '1', '--key-file', join(dir, `cli-${i}.key`), '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FL_PRIVATE_KEY: '', CI: 'true' } });
      cli.push(child);
    }
    const exits = cli.map((c) => new Promise<number>((res) => c.once('exit', (code) => res(code ?? 1))));
    await openRound(env.c.ctx, task.id, { durationSeconds: 600, minClients: 5, maxClients: 5 });
    const r1: Round = await committed(1);
    assert.equal(r1.accepted, 5);
    assert.deepEqual(await Promise.all(exits), [0, 0, 0], 'the CLI owners finished');
    for (const p of [a, b]) await logOf(p, 1).and(p.locator('[data-state="accepted"]')).waitFor({ timeout: 60_000 });
    const clients = new Set<string>(r1.acceptedUpdates.map((u) => u.client));
    assert.ok(clients.has(walletB.address.toLowerCase()), 'the wallet-signed update is in the round');
    assert.ok(clients.has(((await a.locator('#address').textContent()) ?? '').trim()), 'the page-key update is in the round');
    assert.equal(await a.locator('#loss-chart canvas').count(), 1, 'the loss curve was drawn');
  });

  test('a file that does not fit the task is refused with a reason, and nothing is uploaded', async () => {
    const { page } = await owner('wrong-shape');
    const iris = Array.from({ length: 20 }, (_, i) => `${i / 10},0.5,1.5,0.2,${i % 3}`).join('\n');
    await page.locator('#csv').setInputFiles({ name: 'iris.csv', mimeType: 'text/csv', buffer: Buffer.from(iris) });
    await page.locator('#data-error', { hasText: 'does not fit the task' }).waitFor({ timeout: 30_000 });
    assert.match((await page.locator('#data-error').textContent()) ?? '', /4 features .* this task takes 784 features/);
    assert.equal(await page.locator('#join').isDisabled(), true, 'nothing to take part with');
    const toCoordinator = requests.filter((r) => r.page === 'wrong-shape' && r.url.startsWith(env.c.url));
    assert.deepEqual(toCoordinator.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.url}`), [], 'only reads: no registration, no upload');
  });

  test('reloading mid-training resumes, reloading after an upload never uploads twice', async () => {
    // a shows progress of round 2 from its first batch on; b lists round 2 once its upload is recorded.
    const trained = a.locator('#train-progress[data-round="2"]');
    const uploadedB = logOf(b, 2);
    // Page a's CPU runs 8x slower until the reload (Chromium's own throttling, per page), so that its
    // training is still under way when the test looks: on a busy machine an unthrottled page could
    // finish between the first progress report and the check.
    const cdp = await a.context().newCDPSession(a);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 8 });
    const round = openRound(env.c.ctx, task.id, { durationSeconds: 600, minClients: 2, maxClients: 2 });
    await trained.waitFor({ timeout: 120_000 });
    assert.equal(puts('a', 2).length, 0, 'a is still training');
    await a.reload();
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    await cdp.detach();
    await uploadedB.waitFor({ timeout: 120_000 });
    await b.reload();
    await round;
    await committed(2);
    for (const p of [a, b]) await logOf(p, 2).and(p.locator('[data-state="accepted"]')).waitFor({ timeout: 60_000 });
    assert.equal(puts('a', 2).length, 1, 'a trained again after the reload and uploaded once');
    assert.equal(puts('b', 2).length, 1, 'b did not upload again after the reload');
    assert.match((await logOf(b, 2).textContent()) ?? '', /accepted/);
  });

  test('both browser owners see their rewards and claim them on chain', async () => {
    const token = attach('RewardToken', chain.d.addresses.token, chain.provider);
    const addrA = ((await a.locator('#address').textContent()) ?? '').trim();
    for (const addr of [addrA, walletB.address]) await chain.provider.send('anvil_setBalance', [addr, `0x${parseEther('1').toString(16)}`]);
    for (const [p, addr] of [[a, addrA], [b, walletB.address]] as const) {
      await p.click('#refresh-rewards');
      await p.locator('#rewards tbody tr').nth(1).waitFor({ timeout: 60_000 });
      await p.click('#claim');
      await p.locator('#rewards-status', { hasText: 'Claimed 2 round(s)' }).waitFor({ timeout: 60_000 });
      assert.equal(await p.locator('#rewards tbody tr[data-claimed="true"]').count(), 2);
      assert.ok((await token.balanceOf(addr)) > 0n, `${addr} was paid`);
    }
    mkdirSync(SHOTS, { recursive: true });
    await a.screenshot({ path: join(SHOTS, 'join-page.png'), fullPage: true });
  });

  test('fl-audit re-aggregates every round, browser updates included', async () => {
    const r = await runNode(['bin/fl-audit.js', '--rpc', chain.anvil.rpcUrl, '--registry', chain.d.addresses.registry, '--task', String(task.id), '--coordinator', env.c.url, '--reaggregate']);
    assert.equal(r.code, 0, `fl-audit failed:\n${r.stdout}\n${r.stderr}`);
  });

  test('no request from a page carries the samples: only registration, the signed update and chain calls', async () => {
    // The task's codec (int8 by default): the page encodes as the CLI does.
    const size = wireBytes(task.wire, task.params);
    const rpc = new URL(chain.anvil.rpcUrl).origin;
    const allowedRpc = new Set(['eth_chainId', 'eth_call', 'eth_blockNumber', 'eth_getBlockByNumber', 'eth_estimateGas', 'eth_gasPrice', 'eth_maxPriorityFeePerGas', 'eth_feeHistory', 'eth_getTransactionCount', 'eth_sendRawTransaction', 'eth_getTransactionReceipt', 'eth_getTransactionByHash', 'net_version']);
    let checked = 0;
    for (const r of requests) {
      const u = new URL(r.url);
      assert.ok(u.search.length < 200, `a short query string only: ${r.url}`);
      if (!r.body?.length) continue;
      checked++;
      const where = `${r.page}: ${r.method} ${r.url}`;
      if (u.origin === rpc) {
        const calls = [JSON.parse(r.body.toString())].flat() as { method: string; params: unknown[] }[];
        for (const c of calls) {
          assert.ok(allowedRpc.has(c.method), `${where}: JSON-RPC ${c.method}`);
          assert.ok(JSON.stringify(c.params).length < 4096, `${where}: ${c.method} params are small`);
        }
      } else if (r.method === 'PUT') {
        assert.match(u.pathname, /^\/v1\/tasks\/\d+\/rounds\/\d+\/updates$/, where);
        assert.equal(r.body.length, size, `${where}: the body is exactly the encoded delta`);
        assert.equal(keccak256(getBytes(new Uint8Array(r.body))), r.headers['x-fl-update-hash'], `${where}: and is the signed update`);
      } else {
        assert.equal(r.method, 'POST', where);
        assert.match(u.pathname, /^\/v1\/tasks\/\d+\/clients(\/challenge)?$/, where);
        const keys = Object.keys(JSON.parse(r.body.toString())).sort();
        assert.ok(['address', 'address,expiresAt,nonce,signature'].includes(keys.join(',')), `${where}: keys ${keys}`);
      }
    }
    assert.ok(checked >= 6, `the pages sent registrations, updates and claims (${checked} bodies checked)`);
    assert.deepEqual(problems, [], 'no uncaught errors in the pages');
  });
});
