/**
 * Runs the services as child processes, for benchmarks and fault tests that need the real thing in
 * its own process: its own memory to measure, a real SIGKILL. `coordinator/main.ts` is what `npm start`
 * runs, `coordinator/worker-main.ts` what `npm run worker` runs. Node is started directly (not
 * through npm), so signals reach the service itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const Listening = z.object({ msg: z.literal('coordinator listening'), url: z.string().url() });
const WorkerReady = z.object({ msg: z.literal('worker ready') });
const COORDINATOR = fileURLToPath(new URL('../coordinator/main.ts', import.meta.url));
const WORKER = fileURLToPath(new URL('../coordinator/worker-main.ts', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** The last lines it logged (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the first line (from now, or already logged) that contains `text`. */
  waitForLine(text: string, timeoutMs?: number): Promise<string>;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export interface CoordinatorProcess extends ServiceProcess {
  url: string;
}

/** Starts `entry` with `env` on top of this process's environment; resolves once `ready` parses a log line. */
async function startService<T>(entry: string, env: Record<string, string>, ready: (line: unknown) => T | undefined, timeoutMs: number): Promise<ServiceProcess & { ready: T }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const name = entry.split('/').pop();
  let log = '';
  const all: string[] = [];
  const lines = new EventEmitter();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  // pino writes to stderr (coordinator/logger.ts), failpoints too; read both streams anyway.
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      log = (log + line + '\n').slice(-6000);
      // Lines for waitForLine to search back through (the last 20,000: a bench's busy coordinator logs a lot).
      all.push(line);
      if (all.length > 20_000) all.shift();
      lines.emit('line', line);
    });
  }
  const waitForLine = (text: string, ms = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = all.find((l) => l.includes(text));
      if (seen !== undefined) return resolve(seen);
      const onLine = (l: string) => {
        if (!l.includes(text)) return;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(l);
      };
      const timer = setTimeout(() => {
        lines.off('line', onLine);
        reject(new Error(`${name} logged no line with ${JSON.stringify(text)} within ${ms} ms: ${log}`));
      }, ms);
      lines.on('line', onLine);
    });
  const readyValue = await new Promise<T>((resolve, reject) => {
    const fail = (e: Error) => {
      child.kill('SIGKILL');
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs} ms: ${log}`)), timeoutMs);
    const onExit = (code: number | null) => fail(new Error(`${name} exited with ${code}: ${log}`));
    child.once('exit', onExit);
    const onLine = (line: string) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        return; // not a JSON log line
      }
      const v = ready(parsed);
      if (v === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.off('line', onLine);
      resolve(v);
    };
    lines.on('line', onLine);
  });
  return { child, ready: readyValue, output: () => log, waitForLine, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

/** The coordinator (`npm start`); resolves once it listens. */
export async function startCoordinatorProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<CoordinatorProcess> {
  const s = await startService(COORDINATOR, env, (l) => Listening.safeParse(l).data?.url, timeoutMs);
  return { ...s, url: s.ready };
}

/** A standalone update worker (`npm run worker`); resolves once it takes jobs. */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess> {
  return startService(WORKER, env, (l) => (WorkerReady.safeParse(l).success ? true : undefined), timeoutMs);
}
