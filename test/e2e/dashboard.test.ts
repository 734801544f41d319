/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) while a real demo runs:
 * client processes train MNIST, rounds commit on a private anvil, the auditor runs. The page must
 * show the rounds as they happen (server-sent events, no reload), plot one point per evaluated round,
 * show each round's chain commit and the audit outcome. A screenshot is saved for people to look at.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results');
const ROUNDS = 3;

/** Chromium comes from Debian (no browser download); installed here when missing, or the test fails saying how. */
function ensureChromium(): void {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-debian-packages.sh'), 'chromium'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `chromium is needed for the dashboard test: ${r.stderr.trim()}`);
}

describe('dashboard in headless chromium during a demo run', () => {
  let demo: ChildProcess | undefined;
  let browser: Browser | undefined;
  let output = '';

  before(() => ensureChromium());
  after(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null) {
      demo.kill('SIGTERM');
      await new Promise((r) => demo!.once('exit', r));
    }
  });

  test('rounds appear live, the chart has a point per round, commits and the audit are shown', async () => {
    demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--rounds', String(ROUNDS), '--clients', '2', '--seed', '2', '--hold'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: 'true' },
    });
    const lines = createInterface({ input: demo.stdout! });
    demo.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard URL from the demo: ${output}`)), 120_000);
      demo!.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${output}`)));
      lines.on('line', (l) => {
        output = (output + l + '\n').slice(-8000);
        const m = /^demo: dashboard (\S+)/.exec(l);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      });
    });
    const finished = new Promise<string>((res) => lines.on('line', (l) => l.startsWith('demo: rounds=') && res(l)));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // This machine has no network beyond its registries: keep chromium from reaching out at all.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('response', (r) => r.status() >= 400 && consoleErrors.push(`HTTP ${r.status()} ${r.url()}`));
    // Opened while round 1 is still training: everything after this arrives through the event stream.
    await page.goto(url);
    await page.locator('[data-testid="live"]', { hasText: 'live' }).waitFor({ timeout: 60_000 });
    await page.locator('#rounds tr[data-round="1"]').waitFor({ timeout: 180_000 });

    await page.locator(`#chart[data-points="${ROUNDS}"]`).waitFor({ timeout: 300_000 });
    assert.equal(await page.locator('#chart canvas').count(), 1, 'uPlot drew its canvas');
    const last = await finished;
    assert.match(last, /committed=3 audit=pass/);
    await page.locator('[data-testid="audit"]', { hasText: 'pass' }).waitFor({ timeout: 30_000 });
    for (let r = 1; r <= ROUNDS; r++) {
      const row = page.locator(`#rounds tr[data-round="${r}"]`);
      await row.locator('td', { hasText: /^block \d+, tx 0x/ }).waitFor({ timeout: 30_000 });
      assert.equal(await row.getAttribute('data-state'), 'committed');
    }
    // The newest round's contributors, from its manifest: both clients were paid.
    assert.equal(await page.locator('#contributors tr[data-status="accepted"]').count(), 2);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    assert.deepEqual(consoleErrors, [], 'the page logged no errors');
  });
});
