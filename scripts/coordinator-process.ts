/**
 * Runs `coordinator/main.ts` (what `npm start` runs) as a child process, for benchmarks and fault
 * tests that need the real service in its own process: its own memory to measure, a real SIGKILL.
 * Node is started directly (not through npm), so signals reach the coordinator itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const Listening = z.object({ msg: z.literal('coordinator listening'), url: z.string().url() });
const MAIN = fileURLToPath(new URL('../coordinator/main.ts', import.meta.url));

export interface CoordinatorProcess {
  child: ChildProcess;
  url: string;
  /** The last lines it logged (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** Starts the coordinator with `env` on top of this process's environment; resolves once it listens. */
export async function startCoordinatorProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<CoordinatorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const fail = (e: Error) => {
      child.kill('SIGKILL');
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`coordinator did not start within ${timeoutMs} ms: ${log}`)), timeoutMs);
    child.once('exit', (code) => fail(new Error(`coordinator exited with ${code}: ${log}`)));
    // pino writes to stderr (coordinator/logger.ts); read both streams anyway.
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log = (log + line + '\n').slice(-6000);
        try {
          const l = Listening.safeParse(JSON.parse(line));
          if (l.success) {
            clearTimeout(timer);
            resolve(l.data.url);
          }
        } catch {
          // not a JSON log line
        }
      });
    }
  });
  return { child, url, output: () => log, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}
