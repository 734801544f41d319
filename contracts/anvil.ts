import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { packageDir } from './paths.ts';

/**
 * A private local chain: Foundry's anvil, from the npm package @foundry-rs/anvil-linux-amd64 (the
 * binary ships inside it), as a child process on 127.0.0.1. anvil binds port 0 to a free port and
 * prints it, so there is no race between picking a port and binding it.
 */

const ANVIL_PACKAGE = '@foundry-rs/anvil-linux-amd64';

export interface AnvilOptions {
  /** Chain id (31337, anvil's and the coordinator's default). */
  chainId?: number;
  /** Number of funded dev accounts (10). */
  accounts?: number;
  /** Ether per dev account (10,000). */
  balance?: number;
  /** EVM hardfork; anvil's latest by default. The contracts are compiled for cancun and run on any later fork. */
  hardfork?: string;
  /** Give up when anvil does not answer within this many milliseconds (20,000). */
  startTimeoutMs?: number;
  /** Path of the anvil binary (the one inside the npm package by default). */
  binary?: string;
}

export interface Anvil {
  rpcUrl: string;
  chainId: number;
  port: number;
  /** anvil's deterministic dev accounts ("test test ... junk" mnemonic), funded, in order. */
  accounts: string[];
  /** Their private keys, same order. */
  privateKeys: string[];
  child: ChildProcess;
  /** Stops anvil and removes its temporary files; safe to call twice. */
  stop(): Promise<void>;
}

/** Path of the anvil binary inside the npm package; throws with what to do when it is missing or not executable. */
export function anvilBinary(): string {
  let dir: string;
  try {
    dir = packageDir(ANVIL_PACKAGE);
  } catch {
    throw new Error(
      `${ANVIL_PACKAGE} is not installed (it is an optional dependency for Linux x64 only): run npm ci on Linux x64, or pass AnvilOptions.binary`,
    );
  }
  return checkExecutable(join(dir, 'bin', 'anvil'));
}

function checkExecutable(file: string): string {
  try {
    accessSync(file, constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `anvil binary not found at ${file}` : `anvil binary at ${file} is not executable (chmod +x it)`);
  }
  return file;
}

const AnvilConfig = z.object({
  available_accounts: z.array(z.string()),
  private_keys: z.array(z.string()),
});

const LISTENING = /Listening on 127\.0\.0\.1:(\d+)/;

/** Starts anvil and resolves once it answers eth_chainId; it is killed by stop() or when this process exits. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<Anvil> {
  const binary = opts.binary === undefined ? anvilBinary() : checkExecutable(opts.binary);
  const chainId = opts.chainId ?? 31337;
  const dir = mkdtempSync(join(tmpdir(), 'fl-anvil-'));
  const configFile = join(dir, 'config.json');
  const args = ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId), '--config-out', configFile];
  args.push('--accounts', String(opts.accounts ?? 10), '--balance', String(opts.balance ?? 10_000));
  if (opts.hardfork) args.push('--hardfork', opts.hardfork);

  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // A crashed or exiting parent must not leave a chain behind.
  process.once('exit', killOnExit);

  // anvil logs every RPC call: keep draining its output (a full pipe would stall it) and keep the
  // tail for error messages.
  const tail: string[] = [];
  let portFound: (port: number) => void = () => {};
  const portSeen = new Promise<number>((resolve) => (portFound = resolve));
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      const m = LISTENING.exec(line);
      if (m?.[1]) portFound(Number(m[1]));
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`could not start anvil (${binary}): ${e.message}`)));
    child.once('exit', (code, signal) =>
      reject(new Error(`anvil exited (${signal ?? `code ${code}`}) before answering:\n${tail.join('\n')}`)),
    );
  });
  failed.catch(() => {}); // only awaited while starting; a later exit is reported by stop()/RPC errors

  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`anvil did not answer within ${timeoutMs} ms:\n${tail.join('\n')}`)), timeoutMs);
  });

  // Ends the eth_chainId polling once starting is over, whichever way it went.
  const done = new AbortController();
  try {
    const port = await Promise.race([portSeen, failed, timeout]);
    const rpcUrl = `http://127.0.0.1:${port}`;
    await Promise.race([waitForChainId(rpcUrl, chainId, done.signal), failed, timeout]);
    const config = AnvilConfig.parse(JSON.parse(readFileSync(configFile, 'utf8')));
    return { rpcUrl, chainId, port, accounts: config.available_accounts, privateKeys: config.private_keys, child, stop };
  } catch (e) {
    await stop();
    throw e;
  } finally {
    done.abort();
    clearTimeout(timer);
  }
}

/** Polls eth_chainId until anvil answers with the expected id, or until `signal` aborts. */
async function waitForChainId(rpcUrl: string, chainId: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(rpcUrl, {
        signal,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      });
      const body = (await res.json()) as { result?: string };
      if (body.result !== undefined) {
        if (Number(body.result) !== chainId) throw new Error(`anvil answered chain id ${body.result}, expected ${chainId}`);
        return;
      }
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('anvil answered')) throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
