/**
 * `npm run build:contracts [-- --quiet] [--json] [--force]` (`--help` for all): compiles contracts/src and writes contracts/out:
 *   <Name>.json     abi, bytecode and deployed bytecode of every contract and interface
 *   types/          typed ethers-v6 bindings (typechain), for type-checking code that uses the contracts
 *   build-info.json compiler, settings and the input hash that lets the next build skip all work
 *
 * The input hash covers our sources, every imported package file, the compiler and generator
 * versions, the settings and these build scripts. Concurrent builds (parallel test files) take a lock
 * and the output folder is replaced in one rename, so nobody reads a half-written build.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { Command } from 'commander';
import { createStepProgress } from '../client/progress.ts';
import { withDirLock } from '../scripts/dir-lock.ts';
import { bindingsGenerator, generateBindings } from './bindings.ts';
import { compile, ownSources, readDependency, SOLC_SETTINGS } from './compile.ts';
import { isEntryPoint } from './entry.ts';
import { CONTRACTS_DIR, OUT_DIR, packageVersion, REPO_ROOT, TYPES_DIR } from './paths.ts';

export interface BuildOptions {
  /** Print nothing but compiler warnings. */
  quiet?: boolean;
  /** No lines and no progress: the caller prints the returned result as JSON. */
  json?: boolean;
  /** Rebuild even when the input hash matches. */
  force?: boolean;
  /** Where lines go (console.log by default). */
  log?: (line: string) => void;
}

export interface BuildResult {
  outDir: string;
  /** Names of the contracts written as <Name>.json. */
  contracts: string[];
  /** False when the previous build was still current. */
  compiled: boolean;
  inputHash: string;
}

const BuildInfo = z.object({
  inputHash: z.string(),
  compiler: z.string(),
  settings: z.unknown(),
  bindings: z.string(),
  dependencies: z.array(z.string()),
  contracts: z.array(z.string()),
});
type BuildInfo = z.infer<typeof BuildInfo>;

const INFO_FILE = 'build-info.json';
const LOCK_DIR = join(CONTRACTS_DIR, '.build.lock');
const BUILD_SCRIPTS = ['build.ts', 'compile.ts', 'bindings.ts', 'paths.ts'].map((f) => join(CONTRACTS_DIR, f));

/** Builds contracts/out unless it is already current; safe to call from several processes at once. */
export async function buildContracts(opts: BuildOptions = {}): Promise<BuildResult> {
  const log = opts.quiet || opts.json ? () => {} : (opts.log ?? ((line: string) => console.error(line)));
  if (!opts.force) {
    const current = currentBuild();
    if (current) return report(current, false, log);
  }
  return withDirLock(LOCK_DIR, { staleMs: 300_000, waitMs: 300_000 }, async () => {
    // Another process may have finished the same build while this one waited for the lock.
    const current = opts.force ? undefined : currentBuild();
    if (current) return report(current, false, log);
    // Three steps: compile (solcjs, the long one), artefacts, typed bindings.
    const progress = createStepProgress('contracts', 3, opts);
    const info = await compileInto(OUT_DIR, (w) => console.warn(w), progress.step);
    progress.done();
    return report(info, true, log);
  });
}

/** The build in contracts/out when its input hash still matches the inputs on disk. */
function currentBuild(): BuildInfo | undefined {
  let info: BuildInfo;
  try {
    info = BuildInfo.parse(JSON.parse(readFileSync(join(OUT_DIR, INFO_FILE), 'utf8')));
  } catch {
    return undefined;
  }
  if (inputHash(info.dependencies) !== info.inputHash) return undefined;
  if (!info.contracts.every((name) => existsSync(join(OUT_DIR, `${name}.json`)))) return undefined;
  if (info.bindings !== 'none' && !existsSync(join(TYPES_DIR, 'index.ts'))) return undefined;
  return info;
}

/** sha256 over everything that decides the outputs; undefined when a recorded dependency has gone. */
function inputHash(dependencies: string[]): string | undefined {
  const h = createHash('sha256');
  const part = (name: string, content: string) => h.update(`${name}\0${content.length}\0${content}\0`);
  part('compiler', `solc@${packageVersion('solc')}`);
  part('settings', JSON.stringify(SOLC_SETTINGS));
  part('bindings', bindingsGenerator());
  for (const file of BUILD_SCRIPTS) part(relative(REPO_ROOT, file), readFileSync(file, 'utf8'));
  for (const [name, content] of ownSources()) part(name, content);
  for (const dep of dependencies) {
    const content = readDependency(dep);
    if (content === undefined) return undefined;
    part(dep, content);
  }
  return h.digest('hex');
}

/** Compiles into a fresh folder next to outDir, then swaps it in. */
async function compileInto(outDir: string, warn: (w: string) => void, step: (info: string) => void): Promise<BuildInfo> {
  const t0 = Date.now();
  const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const result = await compile();
  for (const w of result.warnings) warn(w);
  step(`compiled ${result.contracts.length} contracts with solc ${packageVersion('solc')} (${secs()})`);

  const names = result.contracts.map((c) => c.contractName);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`two contracts are named ${duplicate}: artefacts are keyed by name, rename one`);

  const staging = join(CONTRACTS_DIR, `.out-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging, { recursive: true });
  try {
    const files = result.contracts.map((c) => {
      const file = join(staging, `${c.contractName}.json`);
      writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`);
      return file;
    });
    step(`wrote ${files.length} artefacts (${secs()})`);
    const generated = await generateBindings(files, join(staging, 'types'));
    step(`${generated === undefined ? 'bindings skipped' : 'typed bindings generated'} (${secs()})`);
    const hash = inputHash(result.dependencies);
    if (hash === undefined) throw new Error('an imported file vanished during the build');
    const info: BuildInfo = {
      inputHash: hash,
      compiler: `solc@${packageVersion('solc')}`,
      settings: SOLC_SETTINGS,
      bindings: generated === undefined ? 'none' : bindingsGenerator(),
      dependencies: result.dependencies,
      contracts: names.sort(),
    };
    writeFileSync(join(staging, INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
    swapIn(staging, outDir);
    return info;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function swapIn(staging: string, outDir: string) {
  const old = `${staging}-old`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
}

function report(info: BuildInfo, compiled: boolean, log: (line: string) => void): BuildResult {
  const tag = compiled ? '' : ' (up to date)';
  for (const name of info.contracts) {
    const file = join(OUT_DIR, `${name}.json`);
    const { abi, deployedBytecode } = JSON.parse(readFileSync(file, 'utf8')) as { abi: unknown[]; deployedBytecode: string };
    const size = (deployedBytecode.length - 2) / 2;
    const what = size === 0 ? 'interface' : `${size} bytes of runtime code`;
    log(`${relative(REPO_ROOT, file)}: ${abi.length} abi entries, ${what}${tag}`);
  }
  if (info.bindings === 'none') log(`${relative(REPO_ROOT, TYPES_DIR)}: skipped (typechain is a dev dependency and is not installed)`);
  else log(`${relative(REPO_ROOT, TYPES_DIR)}/: typed ethers-v6 bindings by ${info.bindings}${tag}`);
  return { outDir: OUT_DIR, contracts: info.contracts, compiled, inputHash: info.inputHash };
}

if (isEntryPoint(import.meta.url)) {
  const o = new Command('build:contracts')
    .description('compile contracts/src with solc into contracts/out (ABIs, bytecode, typed bindings); skipped when current')
    .option('--quiet', 'print nothing but compiler warnings', false)
    .option('--json', 'print the result as one JSON line on stdout, no progress', false)
    .option('--force', 'rebuild even when the input hash matches', false)
    .addHelpText('after', '\nExit codes: 0 built or current; 1 usage or compile error (the compiler\'s messages on stderr).')
    .parse()
    .opts<{ quiet: boolean; json: boolean; force: boolean }>();
  buildContracts(o).then(
    (r) => {
      if (o.json) console.log(JSON.stringify(r));
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
