/**
 * The /join page when things go wrong, in Debian's headless chromium (playwright-core) against a
 * real coordinator: a narrow phone-sized screen with nothing cut off or scrolling sideways; the
 * coordinator going down while the page waits for a round (it says so, keeps trying, and takes part
 * once the coordinator is back on the same address); a round that closes before the page's update
 * is checked (it says the round was missed and takes the next one).
 * The one interference: the page's fetch of the round's base checkpoint is held back (page.route,
 * then passed on unchanged) until the test has closed the round, which makes "too late" happen on cue.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { closeRound } from '../../coordinator/use-cases/close-round.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import type { Task } from '../../protocol/index.ts';
import { silentLog, startTestCoordinator, waitFor } from '../helpers/env.ts';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

describe('the /join page: narrow screens and clear errors', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let coordinator: RunningCoordinator;
  let browser: Browser;
  let task: Task;
  let page: Page;
  const problems: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-debian-packages.sh'), 'chromium'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `chromium is needed: ${r.stderr.trim()}`);
    env = await startTestCoordinator();
    coordinator = env.c;
    cleanups.push(async () => {
      if (coordinator !== env.c) await coordinator.stop();
      await env.cleanup();
    });
    task = await createTask(env.c.ctx, { name: 'iris on a phone', model: 'iris-mlp', training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, seed: 2 });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    cleanups.push(() => browser.close());
  });
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup failed:', e));
  });

  const logOf = (round: number) => page.locator(`#round-log li[data-round="${round}"]`);
  const state = (round: number) =>
    waitFor(`round ${round} decided`, async () => {
      const r = await coordinator.ctx.rounds.get(task.id, round);
      return r && r.state !== 'open' && r.state !== 'closing' ? r : null;
    }, 120_000, 100);

  test('on a 360-pixel-wide screen nothing scrolls sideways or is cut off', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    cleanups.push(() => ctx.close());
    page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${env.c.url}/join/?task=${task.id}&backend=wasm&shard=0/3`);
    await page.locator('#address', { hasText: '0x' }).waitFor({ timeout: 60_000 });
    await page.click('#sample');
    await page.locator('#data-info', { hasText: 'samples loaded' }).waitFor({ timeout: 30_000 });
    const layout = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const outside = [...document.querySelectorAll('button, label.button, select, input:not([hidden]), code, p, progress, table')]
        .filter((el) => (el as HTMLElement).offsetParent !== null)
        .map((el) => ({ el: `${el.tagName.toLowerCase()}#${el.id}`, right: el.getBoundingClientRect().right }))
        .filter((x) => x.right > width + 0.5);
      return { width, scrollWidth: document.documentElement.scrollWidth, outside };
    });
    assert.equal(layout.width, 360);
    assert.ok(layout.scrollWidth <= layout.width, `the page scrolls sideways: ${layout.scrollWidth} > ${layout.width}`);
    assert.deepEqual(layout.outside, [], 'elements reach past the screen edge');
    const join = await page.locator('#join').boundingBox();
    assert.ok(join && join.height >= 32, 'the main button is big enough to tap');
  });

  test('the coordinator going down is said plainly; the page takes part again once it is back', async () => {
    await page.click('#join');
    await page.locator('#status', { hasText: 'Waiting for an open round' }).waitFor({ timeout: 30_000 });
    const port = coordinator.port;
    await coordinator.stop();
    await page.locator('#status', { hasText: `cannot reach the coordinator at ${env.c.url}` }).waitFor({ timeout: 30_000 });
    // Back on the same address, same Redis prefix and data directory: the page was never reloaded.
    coordinator = await startCoordinator({ ...env.config, port }, { log: silentLog() });
    await openRound(coordinator.ctx, task.id, { durationSeconds: 300, minClients: 1, maxClients: 1 });
    assert.equal((await state(1)).state, 'aggregated');
    await logOf(1).and(page.locator('[data-state="accepted"]')).waitFor({ timeout: 60_000 });
  });

  test('a round that closes before the update is checked is reported as missed, and the next round is taken', async () => {
    let held: (() => void) | undefined;
    let passed: Promise<void> | undefined;
    // Only the next checkpoint fetch (times: 1) is held; later ones go straight through.
    await page.route('**/v1/checkpoints/**', (route) => {
      passed = new Promise<void>((go) => (held = go)).then(() => route.continue());
    }, { times: 1 });
    await openRound(coordinator.ctx, task.id, { durationSeconds: 300, minClients: 1, maxClients: 5 });
    await waitFor('the base fetch held', async () => held !== undefined, 30_000);
    await closeRound(coordinator.ctx, task.id, 2);
    assert.notEqual((await state(2)).state, 'open');
    held!();
    await passed;
    await logOf(2).and(page.locator('[data-state="rejected"]')).waitFor({ timeout: 60_000 });
    assert.match((await logOf(2).textContent()) ?? '', /missed: the round closed before your update was checked/);
    await openRound(coordinator.ctx, task.id, { durationSeconds: 300, minClients: 1, maxClients: 1 });
    assert.equal((await state(3)).state, 'aggregated');
    await logOf(3).and(page.locator('[data-state="accepted"]')).waitFor({ timeout: 60_000 });
    assert.deepEqual(problems, [], 'no uncaught errors in the page');
  });
});
