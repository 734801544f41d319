import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisHandle {
  url: string;
  /** True when this process started its own redis-server (stopped by stop()). */
  private: boolean;
  stop(): Promise<void>;
}

/** Answers whether a Redis at url replies to PING within timeoutMs. */
export async function redisAnswers(url: string, timeoutMs = 800): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface StartRedisOptions {
  port?: number;
  /** Turn on the append-only file (for tests that restart Redis and expect data to survive). */
  appendOnly?: boolean;
  dir?: string;
  /** More redis-server arguments (e.g. the cluster settings of one node of a test cluster). */
  args?: string[];
}

/** Starts a private redis-server child on 127.0.0.1; rejects with install advice when there is none. */
export async function startRedisServer(opts: StartRedisOptions = {}): Promise<RedisHandle & { child: ChildProcess; port: number; dir: string }> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fl-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--appendonly', opts.appendOnly ? 'yes' : 'no', '--loglevel', 'warning', ...(opts.args ?? [])];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new Error('redis-server not found on PATH and no Redis answers on 127.0.0.1:6379: install it (Debian: apt-get install redis-server) or set REDIS_URL')
          : e,
      ),
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  const ready = (async () => {
    for (let i = 0; i < 100; i++) {
      if (await redisAnswers(url, 300)) return;
      if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not answer within 5 s');
  })();
  await Promise.race([ready, spawnError]);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  };
  // A crashed parent must not leave Redis behind.
  process.once('exit', () => child.exitCode === null && child.kill('SIGKILL'));
  return { url, private: true, stop, child, port, dir };
}

/**
 * REDIS_URL when given; else the local Redis on 127.0.0.1:6379 when it answers; else a private
 * redis-server on a free port, stopped by stop().
 */
export async function ensureRedis(url?: string): Promise<RedisHandle> {
  if (url) {
    if (!(await redisAnswers(url, 3000))) throw new Error(`Redis at ${url} (REDIS_URL) does not answer`);
    return { url, private: false, stop: async () => {} };
  }
  const local = 'redis://127.0.0.1:6379';
  if (await redisAnswers(local)) return { url: local, private: false, stop: async () => {} };
  return startRedisServer();
}
