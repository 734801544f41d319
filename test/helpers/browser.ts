/** What the browser tests share: Debian's chromium (installed by the project's own script), launched headless, and the CLIs run as processes. */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** Installs chromium through scripts/ensure-debian-packages.sh when missing; fails the test naming why it cannot. */
export function ensureChromium(): void {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-debian-packages.sh'), 'chromium'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `chromium is needed for the browser tests: ${r.stderr.trim()}`);
}

/** Headless chromium without a GPU, QUIC or background traffic (so recorded requests are the page's own). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Runs `node ARGS` from the repository root (no FL_PRIVATE_KEY, CI=true); resolves with its exit code and output. */
export function runNode(args: string[], timeout = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout, env: { ...process.env, FL_PRIVATE_KEY: '', CI: 'true' } }, (err, stdout, stderr) => {
      res({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
