/**
 * docker-compose.yml without a Docker engine: `docker-compose config` (Debian's docker-compose, put
 * there by scripts/ensure-debian-packages.sh when missing; `docker compose` v2 is used when present)
 * validates and resolves the file, and the resolved services are checked for what the deployment
 * promises. The same checks run on broken copies, so the test is known to tell good from bad. The
 * health probes the file and the Dockerfile use run against a real coordinator and a real anvil.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startAnvil } from '../../contracts/anvil.ts';
import { deletePrefix, startTestCoordinator } from '../helpers/env.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const ENSURE = join(ROOT, 'scripts', 'ensure-debian-packages.sh');
const HEALTHCHECK = join(ROOT, 'scripts', 'healthcheck.ts');
const GOOD_ENV = { ADMIN_TOKEN: 'compose-test-token' };

interface Compose {
  /** The command line before `-f FILE config`. */
  argv: string[];
  /** v2 prints JSON itself; v1 prints YAML only. */
  json: boolean;
}

const runs = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

/** docker-compose v1 (installed when missing) or the `docker compose` plugin; fails saying how to get one. */
function findCompose(): Compose {
  if (runs('docker-compose', ['version'])) return { argv: ['docker-compose'], json: false };
  if (runs('docker', ['compose', 'version'])) return { argv: ['docker', 'compose'], json: true };
  const r = spawnSync('bash', [ENSURE, 'docker-compose'], { encoding: 'utf8' });
  assert.ok(
    r.status === 0 && runs('docker-compose', ['version']),
    `docker-compose is needed to check docker-compose.yml and could not be installed: ${r.stderr.trim() || `exit ${r.status}`}\n` +
      'install it with: apt-get install docker-compose (Debian), or the Docker Compose plugin',
  );
  return { argv: ['docker-compose'], json: false };
}

/** `config` on file, with nothing but PATH and the given variables (the caller's ADMIN_TOKEN must not leak in). */
function composeConfig(compose: Compose, file: string, env: Record<string, string>) {
  const [cmd, ...pre] = compose.argv;
  // With the replicas profile (v2 resolves only the services of the profiles asked for; v1 all of them).
  const args = [...pre, '-f', file, '--profile', 'replicas', 'config', ...(compose.json ? ['--format', 'json'] : [])];
  return spawnSync(cmd!, args, { cwd: dirname(file), encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
}

/** Parses compose's YAML with python3-yaml, which Debian's docker-compose depends on (no YAML parser is in node_modules). */
function parseYaml(text: string): unknown {
  const r = spawnSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `python3 could not parse compose's output: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

type Service = {
  image?: string;
  command?: string[] | string;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  environment?: Record<string, string | null>;
  restart?: string;
};
type Config = { services: Record<string, Service>; volumes?: Record<string, unknown> };

const words = (c: string[] | string | undefined) => (Array.isArray(c) ? c : (c ?? '').split(/\s+/)).filter(Boolean);
const hasHealthcheck = (s: Service) => {
  const t = words(s.healthcheck?.test);
  return !s.healthcheck?.disable && t.length > 0 && t[0] !== 'NONE';
};
/** Named volumes mounted by a service, as target -> volume name (v1 prints "name:/target:rw", v2 objects). */
function namedMounts(s: Service, cfg: Config): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of s.volumes ?? []) {
    const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
    if (source && target && cfg.volumes && source in cfg.volumes) out.set(target, source);
  }
  return out;
}
const conditionOn = (s: Service, dep: string) => (Array.isArray(s.depends_on) ? undefined : s.depends_on?.[dep]?.condition);

/** Services that run to completion (a deployment step, a data owner's job): they have no health to check. */
const isJob = (name: string, s: Service) => s.restart === 'no' || name === 'deploy' || name.startsWith('client-');

/** Every promise of the deployment the resolved file breaks, in words (empty when it keeps them all). */
function deploymentProblems(cfg: Config): string[] {
  const problems: string[] = [];
  const services = cfg.services ?? {};
  const redis = services.redis;
  if (!redis) problems.push('no redis service');
  else {
    const cmd = words(redis.command);
    const aof = cmd.indexOf('--appendonly');
    if (aof < 0 || cmd[aof + 1] !== 'yes') problems.push('redis runs without --appendonly yes');
    if (!namedMounts(redis, cfg).has('/data')) problems.push('redis keeps its data (/data) outside a named volume');
  }
  for (const [name, s] of Object.entries(services)) {
    if (!isJob(name, s) && !hasHealthcheck(s)) problems.push(`service ${name} has no health check`);
  }
  const coord = services.coordinator;
  if (!coord) problems.push('no coordinator service');
  else {
    for (const dep of ['redis', 'anvil']) {
      if (conditionOn(coord, dep) !== 'service_healthy') problems.push(`coordinator does not wait for a healthy ${dep}`);
    }
    const dataDir = coord.environment?.DATA_DIR;
    if (!dataDir || !namedMounts(coord, cfg).has(dataDir)) problems.push(`the checkpoint store (DATA_DIR=${dataDir}) is not on a named volume`);
    if (!coord.environment?.ADMIN_TOKEN) problems.push('coordinator has no ADMIN_TOKEN');
  }
  if (!services.anvil) problems.push('no anvil service');
  // The replicas profile: every coordinator replica after the first shares one bucket, each on its own
  // data volume, and waits for the bucket to exist; MinIO keeps its objects on a named volume.
  const replicas = Object.entries(services).filter(([, s]) => words(s.command).join(' ').includes('coordinator/main.ts'));
  if (replicas.length < 2) problems.push(`${replicas.length} coordinator replica(s), not 2`);
  const volumesOf = new Map<string, string>();
  for (const [name, s] of replicas) {
    const v = namedMounts(s, cfg).get(s.environment?.DATA_DIR ?? '');
    if (v && volumesOf.has(v)) problems.push(`replicas ${volumesOf.get(v)} and ${name} share the data volume ${v}`);
    if (v) volumesOf.set(v, name);
    if (name !== 'coordinator') {
      if (s.environment?.STORE !== 's3') problems.push(`replica ${name} does not use the bucket (STORE=${s.environment?.STORE})`);
      if (conditionOn(s, 'bucket') !== 'service_completed_successfully') problems.push(`replica ${name} does not wait for the bucket`);
    }
  }
  const minio = services.minio;
  if (!minio) problems.push('no minio service');
  else if (!namedMounts(minio, cfg).has('/data')) problems.push('minio keeps its objects (/data) outside a named volume');
  if (Object.values(services).filter((s) => words(s.command).join(' ').includes('coordinator/worker-main.ts')).length < 2) problems.push('fewer than 2 worker services');
  const clients = Object.entries(services).filter(([, s]) => words(s.command).join(' ').includes('fl-client.js join'));
  if (clients.length !== 3) problems.push(`${clients.length} client services run fl-client join, not 3`);
  const shards = new Set(clients.map(([, s]) => /--mnist-shard (\d+\/\d+)/.exec(words(s.command).join(' '))?.[1]));
  if (clients.length === 3 && shards.size !== 3) problems.push('the clients do not train on three different shards');
  return problems;
}

describe('docker-compose.yml', () => {
  let compose: Compose;
  let resolved: Config;
  let scratch: string;

  before(() => {
    compose = findCompose();
    scratch = mkdtempSync(join(tmpdir(), 'fl-compose-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  const load = (text: string): Config => (compose.json ? JSON.parse(text) : parseYaml(text)) as Config;

  test('resolves with docker-compose config and keeps every promise of the deployment', () => {
    const r = composeConfig(compose, COMPOSE_FILE, GOOD_ENV);
    assert.equal(r.status, 0, `docker-compose config failed: ${r.stderr}`);
    resolved = load(r.stdout);
    assert.deepEqual(deploymentProblems(resolved), []);
    assert.equal(resolved.services.coordinator?.environment?.ADMIN_TOKEN, GOOD_ENV.ADMIN_TOKEN);
  });

  test('refuses to resolve without ADMIN_TOKEN, naming it', () => {
    const r = composeConfig(compose, COMPOSE_FILE, {});
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ADMIN_TOKEN/);
  });

  test('a copy with a YAML error or an unknown option is refused', () => {
    const good = readFileSync(COMPOSE_FILE, 'utf8');
    const broken = {
      'yaml-error': good.replace('services:\n', 'services\n'),
      'unknown-option': good.replace(/\n {4}healthcheck:/, '\n    helthcheck:'),
      'bad-condition': good.replace('condition: service_completed_successfully', 'condition: service_finished'),
    };
    for (const [name, text] of Object.entries(broken)) {
      assert.notEqual(text, good, `${name}: the mutation must change the file`);
      const file = join(scratch, name, 'docker-compose.yml');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      const r = composeConfig(compose, file, GOOD_ENV);
      assert.notEqual(r.status, 0, `${name}: docker-compose config accepted a broken file`);
    }
    // The unchanged file, copied the same way, still resolves: the copies fail for their breakage alone.
    const control = join(scratch, 'control', 'docker-compose.yml');
    mkdirSync(dirname(control), { recursive: true });
    copyFileSync(COMPOSE_FILE, control);
    assert.equal(composeConfig(compose, control, GOOD_ENV).status, 0);
  });

  test('the promise checks catch a deployment that breaks one', () => {
    assert.ok(resolved, 'needs the resolved file of the first test');
    const broken = (edit: (c: Config) => void) => {
      const c = structuredClone(resolved);
      edit(c);
      return deploymentProblems(c);
    };
    assert.deepEqual(broken((c) => (c.services.redis!.command = ['redis-server'])), ['redis runs without --appendonly yes']);
    assert.deepEqual(broken((c) => delete c.services.worker!.healthcheck), ['service worker has no health check']);
    assert.deepEqual(broken((c) => (c.services.anvil!.healthcheck = { test: ['NONE'] })), ['service anvil has no health check']);
    assert.deepEqual(broken((c) => ((c.services.coordinator!.depends_on as Record<string, { condition: string }>).anvil = { condition: 'service_started' })), [
      'coordinator does not wait for a healthy anvil',
    ]);
    assert.deepEqual(broken((c) => (c.services.coordinator!.volumes = ['chain:/chain:ro'])), ['the checkpoint store (DATA_DIR=/data) is not on a named volume']);
    assert.deepEqual(broken((c) => delete c.volumes!['redis-data']), ['redis keeps its data (/data) outside a named volume']);
    assert.deepEqual(broken((c) => delete c.services['client-3']), ['2 client services run fl-client join, not 3']);
    assert.deepEqual(broken((c) => (c.services['coordinator-2']!.environment!.STORE = 'fs')), ['replica coordinator-2 does not use the bucket (STORE=fs)']);
    assert.deepEqual(broken((c) => (c.services['coordinator-2']!.volumes = ['checkpoints:/data', 'chain:/chain:ro'])), ['replicas coordinator and coordinator-2 share the data volume checkpoints']);
    assert.deepEqual(broken((c) => delete c.services['worker-2']), ['fewer than 2 worker services']);
  });
});

describe('scripts/healthcheck.ts (the probes of docker-compose.yml and the Dockerfile)', () => {
  // Asynchronous: the coordinator under test answers from this same process's event loop.
  const probe = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(process.execPath, ['--import', 'tsx', HEALTHCHECK, ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (_e, stdout, stderr) =>
        done({ status: child.exitCode, stdout, stderr }),
      );
    });

  test('http and worker probes pass against a running coordinator and fail once it is gone', async () => {
    const t = await startTestCoordinator();
    const env = { REDIS_URL: t.config.redisUrl, REDIS_PREFIX: t.config.prefix };
    try {
      const http = await probe(['http', `${t.c.url}/v1/health`]);
      assert.equal(http.status, 0, http.stderr);
      const worker = await probe(['worker'], env);
      assert.equal(worker.status, 0, worker.stderr);
      assert.equal((await probe(['http', `${t.c.url}/v1/tasks/999`])).status, 1);
      assert.equal((await probe(['worker'], { ...env, REDIS_PREFIX: `${t.config.prefix}-other` })).status, 1);
    } finally {
      await t.cleanup();
      // The probe's queue handle writes BullMQ's meta key under the other prefix too.
      await deletePrefix(t.config.redisUrl, `${t.config.prefix}-other`);
    }
    const gone = await probe(['http', `${t.c.url}/v1/health`]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /unhealthy/);
  });

  test('rpc probe passes against anvil and fails against a non-RPC server', async () => {
    const anvil = await startAnvil();
    try {
      const ok = await probe(['rpc', anvil.rpcUrl]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /chain id 31337/);
    } finally {
      await anvil.stop();
    }
    assert.equal((await probe(['rpc', anvil.rpcUrl])).status, 1);
    assert.equal((await probe(['bogus'])).status, 1);
  });
});
