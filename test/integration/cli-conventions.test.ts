/**
 * The command-line conventions of docs/cli.md, checked on every command a user runs: `--help`
 * exits 0 and states the exit codes; an unknown option exits 1 with a message; `--json` puts JSON
 * (and nothing else) on stdout. Each command runs as its own process, as a user runs it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { JsonRpcProvider } from 'ethers';
import { startAnvil } from '../../contracts/anvil.ts';

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout: 180_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Every command of docs/cli.md: its script and, for commander sub-commands, the words before the flags. */
const COMMANDS: { name: string; script: string; sub?: string[]; takesFlags: boolean }[] = [
  { name: 'fl-client', script: 'client/cli.ts', takesFlags: true },
  ...['join', 'task', 'round', 'rewards', 'claim'].map((c) => ({ name: `fl-client ${c}`, script: 'client/cli.ts', sub: [c], takesFlags: true })),
  { name: 'fl-client identity new', script: 'client/cli.ts', sub: ['identity', 'new'], takesFlags: true },
  { name: 'fl-audit', script: 'client/audit/cli.ts', takesFlags: true },
  { name: 'fl-ceremony', script: 'client/ceremony/cli.ts', takesFlags: true },
  ...['init', 'contribute', 'verify', 'finalize', 'fetch', 'status'].map((c) => ({ name: `fl-ceremony ${c}`, script: 'client/ceremony/cli.ts', sub: [c], takesFlags: true })),
  { name: 'demo', script: 'scripts/demo.ts', takesFlags: true },
  { name: 'attacks', script: 'scripts/attacks.ts', takesFlags: true },
  { name: 'bench', script: 'bench/run.ts', takesFlags: true },
  { name: 'build:contracts', script: 'contracts/build.ts', takesFlags: true },
  { name: 'build:circuits', script: 'circuits/build.ts', takesFlags: true },
  { name: 'deploy', script: 'contracts/deploy.ts', takesFlags: true },
  { name: 'docs:api', script: 'scripts/api-docs.ts', takesFlags: true },
  // The services are configured by environment only; --help lists it.
  { name: 'start', script: 'coordinator/main.ts', takesFlags: false },
  { name: 'worker', script: 'coordinator/worker-main.ts', takesFlags: false },
];

/** At most `n` at once: each is a Node process loading TypeScript. */
async function limited<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  }));
  return out;
}

describe('command-line conventions (docs/cli.md)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('--help on every command exits 0, shows usage and the exit codes', async () => {
    const results = await limited(COMMANDS, 3, (c) => run(c.script, [...(c.sub ?? []), '--help']));
    COMMANDS.forEach((c, i) => {
      const r = results[i]!;
      assert.equal(r.code, 0, `${c.name} --help exited ${r.code}: ${r.stderr}`);
      assert.match(r.stdout, /usage/i, `${c.name} --help shows no usage`);
      assert.match(r.stdout, /exit codes/i, `${c.name} --help does not document its exit codes`);
    });
  });

  test('an unknown option exits 1 and says so, before doing any work', async () => {
    const flagged = COMMANDS.filter((c) => c.takesFlags);
    const results = await limited(flagged, 3, (c) => run(c.script, [...(c.sub ?? []), '--no-such-option']));
    flagged.forEach((c, i) => {
      const r = results[i]!;
      // fl-audit and fl-ceremony keep 2 for usage errors (0/1 are a verification's verdict); see docs/cli.md.
      const expected = c.name === 'fl-audit' || c.name.startsWith('fl-ceremony') ? 2 : 1;
      assert.equal(r.code, expected, `${c.name} --no-such-option exited ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /unknown option|required option/i, `${c.name}: ${r.stderr}`);
    });
  });

  test('--json: stdout is JSON only, for builds, docs, identities and a real deployment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-cli-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const anvil = await startAnvil();
    cleanups.push(() => anvil.stop());
    const [contracts, circuits, docs, identity, deployed] = await Promise.all([
      run('contracts/build.ts', ['--json']),
      run('circuits/build.ts', ['--json']),
      run('scripts/api-docs.ts', ['--check', '--json']),
      run('client/cli.ts', ['identity', 'new', '--out', join(dir, 'id.json'), '--json']),
      run('contracts/deploy.ts', ['--rpc', anvil.rpcUrl, '--json'], { PRIVATE_KEY: anvil.privateKeys[0]! }),
    ]);
    const parse = (name: string, r: Run) => {
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, `${name} printed more than its JSON line: ${r.stdout}`);
      return JSON.parse(lines[0]!) as Record<string, unknown>;
    };
    assert.ok((parse('build:contracts', contracts).contracts as string[]).includes('CheckpointRegistry'));
    assert.equal(parse('build:circuits', circuits).committed, 'match');
    assert.equal(parse('docs:api', docs).stale, false);
    assert.match(String(parse('identity new', identity).commitment), /^\d+$/);
    const d = parse('deploy', deployed);
    const provider = new JsonRpcProvider(anvil.rpcUrl);
    cleanups.push(async () => provider.destroy());
    for (const k of ['registry', 'distributor', 'token', 'claimVerifier']) {
      assert.notEqual(await provider.getCode(String(d[k])), '0x', `no code at the deployed ${k}`);
    }
  });
});
