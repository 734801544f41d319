/**
 * The /join page when things go wrong, in Debian's headless chromium (playwright-core) against a
 * real coordinator: image files chosen from disk (PNGs of MNIST digits made by the browser's own
 * encoder, decoded back by the page to the same pixels, and files it must refuse); a narrow phone-sized screen with nothing cut off or scrolling sideways; the
 * coordinator going down while the page waits for a round (it says so, keeps trying, and takes part
 * once the coordinator is back on the same address); a round that closes before the page's update
 * is checked (it says the round was missed and takes the next one); an update the worker rejects
 * (the reason and its code are shown); an address naming a task that does not exist.
 * The one interference: the page's fetch of the round's base checkpoint is held back (page.route,
 * then passed on unchanged) until the test has closed the round, which makes "too late" happen on cue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { closeRound } from '../../coordinator/use-cases/close-round.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { loadMnist } from '../../client/data/mnist.ts';
import type { Task } from '../../protocol/index.ts';
import { silentLog, startTestCoordinator, waitFor } from '../helpers/env.ts';
import { ensureChromium, launchChromium } from '../helpers/browser.ts';


describe('the /join page: images, narrow screens and clear errors', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let coordinator: RunningCoordinator;
  let browser: Browser;
  let task: Task;
  let mnistTask: Task;
  let page: Page;
  const problems: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    ensureChromium();
    env = await startTestCoordinator();
    coordinator = env.c;
    cleanups.push(async () => {
      if (coordinator !== env.c) await coordinator.stop();
      await env.cleanup();
    });
    task = await createTask(env.c.ctx, { name: 'iris on a phone', model: 'iris-mlp', training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, seed: 2 });
    mnistTask = await createTask(env.c.ctx, { name: 'digits from image files', model: 'mnist-cnn', training: { localEpochs: 1, batchSize: 8, learningRate: 0.01, optimizer: 'adam' }, seed: 4 });
    browser = await launchChromium();
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

  test('image files are decoded in the page to the pixels they hold; unlabelled and broken files are refused by name', async () => {
    const ctx = await browser.newContext();
    cleanups.push(() => ctx.close());
    const p = await ctx.newPage();
    p.on('pageerror', (e) => problems.push(e.message));
    await p.goto(`${env.c.url}/join/?task=${mnistTask.id}&backend=wasm`);
    await p.locator('#address', { hasText: '0x' }).waitFor({ timeout: 60_000 });
    await p.locator('#task-info', { hasText: '[28, 28, 1]' }).waitFor({ timeout: 30_000 });
    await p.locator(`body[data-task="${mnistTask.id}"]`).waitFor({ state: 'attached', timeout: 30_000 });
    // 12 digits as 8-bit grey PNGs, encoded by the browser (OffscreenCanvas), named "<label>_<i>.png".
    const mnist = loadMnist();
    const picks = Array.from({ length: 12 }, (_, i) => i * 7);
    const grey = picks.map((k) => Array.from(mnist.x.subarray(k * 784, (k + 1) * 784), (v) => Math.round(v * 255)));
    const pngs = await p.evaluate(async (images: number[][]) => {
      const out: number[][] = [];
      for (const px of images) {
        const c = new OffscreenCanvas(28, 28);
        const g = c.getContext('2d')!;
        const img = g.createImageData(28, 28);
        px.forEach((v, i) => img.data.set([v, v, v, 255], i * 4));
        g.putImageData(img, 0, 0);
        out.push([...new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer())]);
      }
      return out;
    }, grey);
    const files = pngs.map((b, i) => ({ name: `${mnist.y[picks[i]!]}_${i}.png`, mimeType: 'image/png', buffer: Buffer.from(b) }));
    await p.locator('#images').setInputFiles(files);
    await p.locator('#data-info', { hasText: '12 samples loaded from 12 image files' }).waitFor({ timeout: 30_000 });
    const counts = new Map<number, number>();
    for (const k of picks) counts.set(mnist.y[k]!, (counts.get(mnist.y[k]!) ?? 0) + 1);
    const labels = [...counts.entries()].sort((x, y) => x[0] - y[0]).map(([c, n]) => `${c}:${n}`).join(' ');
    assert.match((await p.locator('#data-info').textContent()) ?? '', new RegExp(`labels ${labels}\\)`), 'labels come from the file names');
    assert.equal(await p.locator('#join').isDisabled(), false, 'ready to take part');
    // What the page decoded is what the images hold (read back from the page's own IndexedDB record).
    const stored = await p.evaluate(async (id: number) => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('fl-join');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const rec = await new Promise<{ data: { x: Float32Array; y: Uint8Array } }>((res, rej) => {
        const r = db.transaction('kv').objectStore('kv').get(`data|${location.origin}|${id}`);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      return { x: [...rec.data.x], y: [...rec.data.y] };
    }, mnistTask.id);
    assert.deepEqual(stored.y, picks.map((k) => mnist.y[k]));
    let worst = 0;
    for (let i = 0; i < picks.length; i++) for (let j = 0; j < 784; j++) worst = Math.max(worst, Math.abs(stored.x[i * 784 + j]! - grey[i]![j]! / 255));
    assert.ok(worst < 1e-6, `decoded pixels equal the images' pixels (worst difference ${worst})`);

    await p.locator('#images').setInputFiles([files[0]!, { ...files[1]!, name: 'digit.png' }]);
    await p.locator('#data-error', { hasText: 'digit.png: no label' }).waitFor({ timeout: 30_000 });
    await p.locator('#images').setInputFiles([{ name: '3_broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png at all') }]);
    await p.locator('#data-error', { hasText: '3_broken.png is not an image this browser can read' }).waitFor({ timeout: 30_000 });
    assert.equal(await p.locator('#join').isDisabled(), true, 'nothing to take part with after a refused choice');
  });

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
  });

  test('an update the worker rejects is shown with its reason; a task that does not exist is said so', async () => {
    // A norm limit no trained update meets: the worker's own check rejects it (the client does not pre-check norms).
    const strict = await createTask(coordinator.ctx, { name: 'iris with a tiny norm limit', model: 'iris-mlp', training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, limits: { maxNorm: 1e-6 }, seed: 6 });
    const ctx = await browser.newContext();
    cleanups.push(() => ctx.close());
    const p = await ctx.newPage();
    p.on('pageerror', (e) => problems.push(e.message));
    await p.goto(`${env.c.url}/join/?task=999&backend=wasm`);
    await p.locator('#task-error', { hasText: 'There is no task 999 on this coordinator' }).waitFor({ timeout: 60_000 });
    await p.selectOption('#task', String(strict.id));
    await p.locator('#task-error:empty').waitFor({ state: 'attached', timeout: 10_000 });
    await p.click('#sample');
    await p.locator('#data-info', { hasText: 'samples loaded' }).waitFor({ timeout: 30_000 });
    await p.click('#join');
    await openRound(coordinator.ctx, strict.id, { durationSeconds: 300, minClients: 1, maxClients: 1 });
    const line = p.locator('#round-log li[data-round="1"]');
    await line.and(p.locator('[data-state="rejected"]')).waitFor({ timeout: 60_000 });
    assert.match((await line.textContent()) ?? '', /rejected: .*norm.* \(NORM_TOO_LARGE\)/i);
    // The log keeps the verdict; the status line has moved on to waiting for the next round.
    await p.locator('#status', { hasText: 'Waiting for the round after 1' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(problems, [], 'no uncaught errors in the pages');
  });
});
