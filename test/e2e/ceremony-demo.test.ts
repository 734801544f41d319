import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';

// `npm run demo -- --private --ceremony N` as a user runs it (shortened: 2 contributors, 1 round,
// 3 members): a real setup ceremony over both circuits in separate fl-ceremony processes, the
// contracts deployed with its claim verifier, members proving with its keys, private claims checked
// on chain by that verifier, and the auditor re-verifying the ceremony. With --hold the demo stays
// up, so an outsider's audit can then be run against a ceremony folder with one contribution altered.
const ROOT = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'fl-ceremony-e2e-'));
let demo: ReturnType<typeof spawn> | undefined;
after(async () => {
  if (demo && demo.exitCode === null) demo.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

test('demo --private --ceremony 2: ceremony keys prove, verify and pay on chain; an altered contribution fails the audit by name', async () => {
  demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--private', '--ceremony', '2', '--rounds', '1', '--clients', '3', '--seed', '3', '--train-digits', '6000', '--hold'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  const out: string[] = [];
  let err = '';
  demo.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => demo!.once('exit', (c) => r(c)));
  // Read stdout until the machine-readable line; the demo then holds until SIGINT.
  const last = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: demo!.stdout! });
    rl.on('line', (l) => {
      out.push(l);
      if (/^demo: rounds=/.test(l)) resolve(l);
    });
    void exited.then((c) => reject(new Error(`demo exited (${c}) before its last line:\n${out.join('\n')}\n${err.slice(-3000)}`)));
  });
  const text = out.join('\n');
  assert.match(last, /^demo: rounds=1 clients=3 accuracy=\d\.\d{4} committed=1 private_claims=3 ceremony=2 audit=pass$/, text);
  assert.equal(out.filter((l) => /^demo: ceremony contribution \d \(separate process, own entropy\)/.test(l)).length, 2, text);
  const dir = /FL_ZK_KEYS=(\S+)/.exec(text)?.[1];
  const rpc = /^demo: chain (\S+) /m.exec(text)?.[1];
  const registry = /registry (0x[0-9a-fA-F]{40})/.exec(text)?.[1];
  const coordinator = /coordinator (http:\/\/\S+?),/.exec(text)?.[1];
  const task = /^demo: task (\d+) /m.exec(text)?.[1];
  assert.ok(dir && rpc && registry && coordinator && task, text);

  assert.match(text, /^demo: beacon = hash of block \d+ of the demo chain, announced now, before it is mined$/m);
  const audit = (keys: string | null) => {
    const env = { ...process.env };
    delete env.FL_ZK_KEYS;
    return spawnSync(process.execPath, ['bin/fl-audit.js', '--rpc', rpc, '--registry', registry, '--task', task, '--coordinator', coordinator, '--json', ...(keys ? ['--zk-keys', keys] : [])], { cwd: ROOT, encoding: 'utf8', timeout: 300_000, env });
  };
  const keysCheck = (stdout: string) => (JSON.parse(stdout.split('\n')[0]!) as { checks: { check: string; ok: boolean; detail: string }[] }).checks.find((c) => c.check === 'genesis.zk-keys');
  // An outsider with nothing but the chain and the coordinator's URL: the pinned ceremony is
  // fetched from GET /v1/ceremony and re-verified, its beacon checked against the block it names.
  const fetched = audit(null);
  assert.equal(fetched.status, 0, `${fetched.stdout}\n${fetched.stderr.slice(-2000)}`);
  const k = keysCheck(fetched.stdout);
  assert.ok(k?.ok, fetched.stdout);
  assert.match(k!.detail, /2 contributions \(contributor-1, contributor-2\)/);
  assert.match(k!.detail, /the beacon is the hash of block \d+ on chain 31337/);
  assert.match(k!.detail, /fetched from coordinator http/);
  // The intact folder given by hand: the same.
  const good = audit(dir);
  assert.equal(good.status, 0, `${good.stdout}\n${good.stderr.slice(-2000)}`);
  // Contribution 2's membership key with one byte changed.
  const bad = join(work, 'altered');
  cpSync(dir, bad, { recursive: true });
  const t = JSON.parse(readFileSync(join(bad, 'ceremony.json'), 'utf8')) as { contributions: { circuits: { membership: { zkey: string } } }[] };
  const file = join(bad, 'files', `${t.contributions[1]!.circuits.membership.zkey}.zkey`);
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
  writeFileSync(file, bytes);
  const r = audit(bad);
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr.slice(-2000)}`);
  assert.match(keysCheck(r.stdout)!.detail, /^ceremony 0x[0-9a-f]{8}…: membership contribution 2 \(contributor-2\): the stored file is not [0-9a-f]{64}: it was altered/);
  assert.match(r.stdout, /audit: task=\d+ rounds=1 FAIL findings=\d+/);

  demo.kill('SIGINT');
  assert.equal(await exited, 0, err.slice(-2000));
});
