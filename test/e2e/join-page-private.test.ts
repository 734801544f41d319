/**
 * A private task from the /join page (Debian's chromium driven by playwright-core): the page makes a
 * member identity (or imports one made by `fl-client identity new`), the admin admits its commitment,
 * the page trains iris with TensorFlow.js, proves membership with snarkjs in a Web Worker and uploads
 * with no address and no signature; a page whose commitment was not admitted is told so and uploads
 * nothing; a member claims its private reward to a fresh address, and fl-audit re-aggregates the round.
 * Nothing here is a stand-in: real proofs, real anvil, the coordinator's own verifier.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEther } from 'ethers';
import type { Browser, Page } from 'playwright-core';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { admitMembers } from '../../coordinator/use-cases/admit-members.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { attach } from '../../contracts/artifacts.ts';
import { parseIdentityFile } from '../../client/identity-format.ts';
import { wireBytes, type Task } from '../../protocol/index.ts';
import { terminateZk } from '../../protocol/zk/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { ensureChromium, launchChromium, runNode } from '../helpers/browser.ts';


describe('the /join page in a private task', () => {
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let browser: Browser;
  let task: Task;
  let dir: string;
  const requests: { page: string; method: string; url: string; headers: Record<string, string>; size: number }[] = [];
  const problems: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    ensureChromium();
    dir = mkdtempSync(join(tmpdir(), 'fl-join-private-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    chain = await startChain();
    cleanups.push(() => chain.stop());
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(async () => chainClient.close());
    env = await startTestCoordinator({}, { chain: chainClient, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    task = await createTask(env.c.ctx, { name: 'private iris in the browser', model: 'iris-mlp', privacy: 'private', training: { localEpochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '1000000000000000000', budget: '1000000000000000000' }, seed: 5 });
    browser = await launchChromium();
    cleanups.push(() => browser.close());
  });
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup failed:', e));
    // The coordinator verified the pages' proofs in this process: snarkjs' curve threads would keep it alive.
    await terminateZk();
  });

  async function member(name: string, shard: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 1400 }, acceptDownloads: true });
    cleanups.push(() => ctx.close());
    // Requests of the page and of its prover worker (the context reports both).
    ctx.on('request', (r) => requests.push({ page: name, method: r.method(), url: r.url(), headers: r.headers(), size: r.postDataBuffer()?.length ?? 0 }));
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    await page.goto(`${env.c.url}/join/?task=${task.id}&backend=wasm&shard=${shard}`);
    await page.locator('#commitment', { hasText: /^[0-9]+$/ }).waitFor({ timeout: 60_000 });
    await page.locator('#member-card').waitFor({ state: 'visible' });
    return page;
  }
  const commitmentOf = async (p: Page) => ((await p.locator('#commitment').textContent()) ?? '').trim();
  const logOf = (p: Page, round: number) => p.locator(`#round-log li[data-round="${round}"]`);
  const puts = (name: string) => requests.filter((r) => r.page === name && r.method === 'PUT');

  let a: Page;
  let b: Page;
  let c: Page;

  test('two admitted pages prove membership in a worker and complete a round; a page not admitted is told and uploads nothing', async () => {
    a = await member('a', '0/3');
    b = await member('b', '1/3');
    c = await member('c', '2/3');
    // b takes part with an identity made by the CLI: the same file format both ways.
    const file = join(dir, 'b.identity.json');
    const made = await runNode(['bin/fl-client.js', 'identity', 'new', '--out', file, '--json']);
    assert.equal(made.code, 0, made.stderr);
    await b.locator('#import-identity').setInputFiles(file);
    const cliCommitment = parseIdentityFile(readFileSync(file, 'utf8')).commitment.toString();
    await b.locator('#commitment', { hasText: cliCommitment }).waitFor({ timeout: 10_000 });

    await admitMembers(env.c.ctx, task.id, { commitments: [await commitmentOf(a), cliCommitment] });
    for (const p of [a, b, c]) {
      await p.click('#sample');
      await p.locator('#data-info', { hasText: 'samples loaded' }).waitFor({ timeout: 60_000 });
      await p.click('#join');
    }
    await a.locator('#member-status', { hasText: 'Admitted' }).waitFor({ timeout: 30_000 });
    await c.locator('#member-status', { hasText: 'Not admitted' }).waitFor({ timeout: 30_000 });

    await openRound(env.c.ctx, task.id, { durationSeconds: 300, minClients: 2, maxClients: 2 });
    const r1 = await waitFor('round 1 committed', async () => {
      const r = await env.c.ctx.rounds.get(task.id, 1);
      if (r?.failureReason) throw new Error(`round 1 failed: ${r.failureReason}`);
      return r?.state === 'committed' ? r : null;
    }, 300_000, 200);
    assert.equal(r1.accepted, 2);
    for (const p of [a, b]) await logOf(p, 1).and(p.locator('[data-state="accepted"]')).waitFor({ timeout: 60_000 });
    await logOf(c, 1).and(c.locator('[data-state="rejected"]')).waitFor({ timeout: 60_000 });
    assert.match((await logOf(c, 1).textContent()) ?? '', /not among the 2 members/);
    assert.equal(puts('c').length, 0, 'the page not admitted uploaded nothing');
    for (const name of ['a', 'b']) {
      const [put, ...more] = puts(name);
      assert.equal(more.length, 0, `${name} uploaded once`);
      assert.equal(put!.size, wireBytes(task.wire, task.params), "the body is the delta in the task's codec (int8 by default)");
      assert.ok(put!.headers['x-fl-proof'] && put!.headers['x-fl-nullifier'], 'a private upload carries a proof and a nullifier');
      assert.equal(put!.headers['x-fl-signature'], undefined, 'and no signature');
      assert.ok(requests.some((r) => r.page === name && r.url.endsWith('/join/zk/membership.zkey')), `${name}'s prover worker fetched the proving key`);
    }
    // The round lists nullifiers, never the pages' commitments or addresses.
    for (const u of r1.acceptedUpdates) assert.match(u.client, /^0x[0-9a-f]{64}$/);
  });

  test('a member claims its private reward to a fresh address; the exported identity is the CLI\'s file', async () => {
    const sender = ((await a.locator('#address').textContent()) ?? '').trim();
    await chain.provider.send('anvil_setBalance', [sender, `0x${parseEther('1').toString(16)}`]);
    await a.click('#refresh-rewards');
    await a.locator('#rewards tbody tr').first().waitFor({ timeout: 60_000 });
    // The budget held exactly one round: the page says further rounds pay nothing.
    await a.locator('#budget-info', { hasText: 'reward budget is spent' }).waitFor({ timeout: 30_000 });
    await a.click('#claim');
    await a.locator('#rewards-status', { hasText: 'choose where to pay' }).waitFor({ timeout: 10_000 });
    const [payoutKey] = await Promise.all([a.waitForEvent('download'), a.click('#new-payout')]);
    const payout = ((await a.locator('#payout').inputValue()) ?? '').trim();
    assert.match(readFileSync((await payoutKey.path())!, 'utf8'), /^0x[0-9a-f]{64}\n$/, 'the fresh address\'s key file was offered');
    await a.click('#claim');
    await a.locator('#rewards-status', { hasText: 'Claimed 1 round(s)' }).waitFor({ timeout: 120_000 });
    const token = attach('RewardToken', chain.d.addresses.token, chain.provider);
    assert.ok((await token.balanceOf(payout)) > 0n, 'the fresh address was paid');
    assert.equal(await token.balanceOf(sender), 0n, 'the sender was not');
    assert.ok(requests.some((r) => r.page === 'a' && r.url.endsWith('/join/zk/claim.zkey')), 'the claim proof was made in the worker');
    const widths = await a.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(widths[0]! <= widths[1]!, `on a 360-pixel screen with the member card and the payout row shown, nothing scrolls sideways (${widths})`);

    const [exported] = await Promise.all([a.waitForEvent('download'), a.click('#export-identity')]);
    const id = parseIdentityFile(readFileSync((await exported.path())!, 'utf8'));
    assert.equal(id.commitment.toString(), await commitmentOf(a));
  });

  test('fl-audit re-aggregates the private round the pages took part in', async () => {
    const r = await runNode(['bin/fl-audit.js', '--rpc', chain.anvil.rpcUrl, '--registry', chain.d.addresses.registry, '--task', String(task.id), '--coordinator', env.c.url, '--reaggregate']);
    assert.equal(r.code, 0, `fl-audit failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^audit: task=\d+ rounds=\d+ pass/m);
    assert.deepEqual(problems, [], 'no uncaught errors in the pages');
  });

  test('the dashboard names the keys the private task pinned: the development keys, marked as not for value', async () => {
    const ctx = await browser.newContext();
    cleanups.push(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(`${env.c.url}/dashboard/?task=${task.id}`);
    const card = page.locator('[data-testid="zk-keys"]');
    await card.waitFor({ timeout: 30_000 });
    assert.match((await card.textContent()) ?? '', /development keys \(public beacon: not for value\)/);
  });
});
