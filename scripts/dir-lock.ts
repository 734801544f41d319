/**
 * A lock directory for builds that parallel processes may start at once (test files building the
 * contracts or circuits). mkdir is atomic; the owner's pid inside lets a waiter take over a lock
 * whose owner died (a killed build) at once instead of waiting out a timeout.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DirLockOptions {
  /** A live owner's lock older than this is taken over too (a hung build). */
  staleMs: number;
  /** Give up waiting after this long, naming the lock. */
  waitMs: number;
}

/** Runs fn while holding `dir` as a lock. */
export async function withDirLock<T>(dir: string, o: DirLockOptions, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (isStale(dir, o.staleMs)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > o.waitMs) throw new Error(`build lock ${dir} held for over ${Math.round(o.waitMs / 1000)} s; remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isStale(dir: string, staleMs: number): boolean {
  try {
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    process.kill(pid, 0); // throws when no such process
    return Date.now() - statSync(dir).mtimeMs > staleMs;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return true;
    // No pid file yet: the owner is between mkdir and write, unless that was long ago.
    if (code === 'ENOENT') return existsSync(dir) && Date.now() - statSync(dir).mtimeMs > 10_000;
    return false; // EPERM: alive, owned by someone else
  }
}
