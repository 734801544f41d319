/**
 * `npm run build:circuits [-- --quiet] [--json] [--update] [--force] [--ptau FILE]` (`--help` for all)
 *
 * For each circuit in circuits/src: compile with circom2 (WebAssembly, `--O2`), run the Groth16
 * phase-2 setup against the powers-of-tau file, add one deterministic beacon contribution, and
 * export the verification key and a Solidity verifier.
 *
 *   circuits/build/<name>.wasm, <name>.zkey   proving artefacts (gitignored, rebuilt on demand)
 *   circuits/build/<name>.r1cs                the constraint system: a setup ceremony (fl-ceremony) starts from it
 *   circuits/keys/<name>.vkey.json            verification key (committed)
 *   contracts/src/generated/<Name>Verifier.sol Solidity verifier (committed)
 *
 * Every step is deterministic, so a rebuild reproduces the committed keys and verifiers byte for byte.
 * By default the build CHECKS that (and fails naming the file that differs); `--update` rewrites the
 * committed files instead. CI runs the default, so a changed circuit without regenerated keys, or a
 * hand-edited verifier, cannot land.
 *
 * The default ptau is the project's own beacon-only file (circuits/ptau.ts): NOT A SECURE CEREMONY.
 * For production pass the Perpetual Powers of Tau file (`--ptau FILE` or FL_PTAU) with `--update`,
 * and replace the beacon with a real phase-2 ceremony (docs/deployment.md, docs/private-tasks.md).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { keccak256, toUtf8Bytes } from 'ethers';
import * as snarkjs from 'snarkjs';
import { z } from 'zod';
import { createStepProgress } from '../client/progress.ts';
import { withDirLock } from '../scripts/dir-lock.ts';
import { BUILD_DIR, CIRCUITS_DIR, type CircuitName, vkeyPath } from './artefacts.ts';
import { solidityVerifier } from './verifier-export.ts';

const run = promisify(execFile);

const REPO_ROOT = resolve(CIRCUITS_DIR, '..');
export const VERIFIERS_DIR = join(REPO_ROOT, 'contracts', 'src', 'generated');
export const DEFAULT_PTAU = join(CIRCUITS_DIR, 'ptau', 'pot14_final.ptau');
const NODE_MODULES = join(REPO_ROOT, 'node_modules');

/** The circuits and the Solidity contract name of each one's verifier. */
export const CIRCUITS = [
  { name: 'membership', contract: 'MembershipVerifier' },
  { name: 'claim', contract: 'ClaimVerifier' },
] as const satisfies readonly { name: CircuitName; contract: string }[];

/** Public phase-2 beacon: anyone can recompute it, which is what makes the build reproducible. */
const PHASE2_BEACON = (name: string): string => keccak256(toUtf8Bytes(`verifiable-fl phase-2 beacon v1 ${name} (NOT A SECURE CEREMONY)`)).slice(2);
const PHASE2_ITERATIONS_EXP = 10;

/** Packages whose files the circuits include or whose code produces the artefacts. */
const TOOL_PACKAGES = ['circom2', 'circomlib', '@zk-kit/binary-merkle-root.circom', 'snarkjs'];

export interface CircuitsBuildOptions {
  quiet?: boolean;
  /** No lines and no progress: the caller prints the returned result as JSON. */
  json?: boolean;
  /** Rewrite the committed verification keys and verifiers instead of checking them. */
  update?: boolean;
  /** Rebuild even when the build folder is current. */
  force?: boolean;
  ptau?: string;
  log?: (line: string) => void;
}

const BuildInfo = z.object({
  inputHash: z.string(),
  ptau: z.string(),
  circuits: z.array(z.string()),
  /** Non-linear constraints per circuit, as circom reports them (the benchmark prints them). */
  constraints: z.record(z.string(), z.number().int().nonnegative()),
});

/** Constraint counts of the current build (build it first). */
export function builtConstraintCounts(): Record<string, number> {
  return BuildInfo.parse(JSON.parse(readFileSync(join(BUILD_DIR, 'build-info.json'), 'utf8'))).constraints;
}

const wasmPath = (dir: string, name: string): string => join(dir, `${name}.wasm`);
const zkeyPath = (dir: string, name: string): string => join(dir, `${name}.zkey`);
const verifierPath = (contract: string): string => join(VERIFIERS_DIR, `${contract}.sol`);

function packageVersion(pkg: string): string {
  return z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(NODE_MODULES, pkg, 'package.json'), 'utf8'))).version;
}

function inputHash(ptau: string): string {
  const h = createHash('sha256');
  for (const { name } of CIRCUITS) h.update(readFileSync(join(CIRCUITS_DIR, 'src', `${name}.circom`)));
  for (const pkg of TOOL_PACKAGES) h.update(`${pkg}@${packageVersion(pkg)}\n`);
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  // The ptau's own .sha256 file when it has one (the committed file does); else its path and size.
  const sum = `${ptau}.sha256`;
  h.update(existsSync(sum) ? readFileSync(sum) : `${resolve(ptau)}:${readFileSync(ptau).length}`);
  return h.digest('hex');
}

function current(hash: string): boolean {
  try {
    const info = BuildInfo.parse(JSON.parse(readFileSync(join(BUILD_DIR, 'build-info.json'), 'utf8')));
    return info.inputHash === hash && CIRCUITS.every(({ name, contract }) =>
      [wasmPath(BUILD_DIR, name), zkeyPath(BUILD_DIR, name), join(BUILD_DIR, `${name}.r1cs`), join(BUILD_DIR, `${name}.vkey.json`), join(BUILD_DIR, `${contract}.sol`)].every(existsSync));
  } catch {
    return false;
  }
}

/** Builds (or reuses) circuits/build, then checks or rewrites the committed keys and verifiers. */
export interface CircuitsBuildResult {
  /** False when circuits/build was current and reused. */
  built: boolean;
  /** Non-linear constraints per circuit, from the build's record. */
  constraints: Record<string, number>;
  /** Whether the committed keys and verifiers were checked (and match) or rewritten. */
  committed: 'match' | 'updated';
}

export async function buildCircuits(opts: CircuitsBuildOptions = {}): Promise<CircuitsBuildResult> {
  const log = opts.quiet || opts.json ? () => {} : (opts.log ?? ((l: string) => console.error(l)));
  const ptau = resolve(opts.ptau ?? process.env.FL_PTAU ?? DEFAULT_PTAU);
  if (!existsSync(ptau)) throw new Error(`powers-of-tau file not found: ${ptau}`);
  const hash = inputHash(ptau);
  let built = false;
  if (opts.force || !current(hash)) {
    // Circuit builds take minutes: a live owner is waited for up to 15 min.
    await withDirLock(join(CIRCUITS_DIR, '.build.lock'), { staleMs: 15 * 60_000, waitMs: 15 * 60_000 }, async () => {
      if (!opts.force && current(hash)) return;
      const staging = `${BUILD_DIR}.tmp-${randomBytes(4).toString('hex')}`;
      mkdirSync(staging, { recursive: true });
      try {
        const constraints: Record<string, number> = {};
        // Four steps per circuit: compile, phase-2 key, beacon, exports.
        const progress = createStepProgress('circuits', CIRCUITS.length * 4, opts);
        for (const c of CIRCUITS) constraints[c.name] = await buildOne(c.name, c.contract, ptau, staging, progress.step);
        progress.done(`built ${CIRCUITS.map((c) => `${c.name} (${constraints[c.name]} constraints)`).join(', ')}`);
        const info = { inputHash: hash, ptau: relative(REPO_ROOT, ptau), circuits: CIRCUITS.map((c) => c.name), constraints };
        writeFileSync(join(staging, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
        rmSync(BUILD_DIR, { recursive: true, force: true });
        renameSync(staging, BUILD_DIR);
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
      built = true;
    });
  } else {
    log('circuits: build is current');
  }
  const committed = syncCommitted(opts.update === true, log);
  const info = z.object({ constraints: z.record(z.string(), z.number()) }).parse(JSON.parse(readFileSync(join(BUILD_DIR, 'build-info.json'), 'utf8')));
  return { built, constraints: info.constraints, committed };
}

/** Builds one circuit into `out`; returns its number of non-linear constraints. */
async function buildOne(name: string, contract: string, ptau: string, out: string, progress: (info: string) => void): Promise<number> {
  const t0 = Date.now();
  const step = (what: string): void => progress(`${name}: ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const work = join(out, `${name}.work`);
  mkdirSync(work, { recursive: true });
  // circom2 runs under WASI with the working directory as its root, so every path is repo-relative.
  const rel = (p: string): string => relative(REPO_ROOT, p);
  const { stdout } = await run(process.execPath, [
    join(NODE_MODULES, 'circom2', 'cli.js'), rel(join(CIRCUITS_DIR, 'src', `${name}.circom`)),
    '--r1cs', '--wasm', '--O2', '-l', 'node_modules', '-l', 'node_modules/circomlib/circuits', '-o', rel(work),
  ], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  const reported = /non-linear constraints: (\d+)/.exec(stdout.replace(/\x1b\[[0-9;]*m/g, ''))?.[1];
  if (reported === undefined) throw new Error(`circom's output for ${name} no longer reports its non-linear constraints`);
  const constraints = Number(reported);
  step(`compiled, ${constraints} constraints`);
  renameSync(join(work, `${name}_js`, `${name}.wasm`), wasmPath(out, name));
  const zkey0 = join(work, `${name}_0000.zkey`);
  renameSync(join(work, `${name}.r1cs`), join(out, `${name}.r1cs`));
  await snarkjs.zKey.newZKey(join(out, `${name}.r1cs`), ptau, zkey0);
  step('phase-2 key created');
  await snarkjs.zKey.beacon(zkey0, zkeyPath(out, name), `verifiable-fl ${name} beacon`, PHASE2_BEACON(name), PHASE2_ITERATIONS_EXP);
  step('beacon contributed');
  const vkey = await snarkjs.zKey.exportVerificationKey(zkeyPath(out, name));
  writeFileSync(join(out, `${name}.vkey.json`), JSON.stringify(vkey, null, 2) + '\n');
  const header = `// Generated by circuits/build.ts from circuits/src/${name}.circom; do not edit. Rebuild: npm run build:circuits -- --update`;
  writeFileSync(join(out, `${contract}.sol`), await solidityVerifier(zkeyPath(out, name), contract, header));
  rmSync(work, { recursive: true, force: true });
  step('verification key and verifier exported');
  return constraints;
}

/** Compares (or, with update, copies) the build's keys and verifiers with the committed ones. */
function syncCommitted(update: boolean, log: (l: string) => void): 'match' | 'updated' {
  const pairs = CIRCUITS.flatMap(({ name, contract }) => [
    [join(BUILD_DIR, `${name}.vkey.json`), vkeyPath(name)],
    [join(BUILD_DIR, `${contract}.sol`), verifierPath(contract)],
  ] as const);
  const stale: string[] = [];
  let wrote = false;
  for (const [built, committed] of pairs) {
    const fresh = readFileSync(built);
    if (existsSync(committed) && readFileSync(committed).equals(fresh)) continue;
    if (update) {
      mkdirSync(dirname(committed), { recursive: true });
      writeFileSync(committed, fresh);
      wrote = true;
      log(`circuits: wrote ${relative(REPO_ROOT, committed)}`);
    } else {
      stale.push(relative(REPO_ROOT, committed));
    }
  }
  if (stale.length > 0) {
    throw new Error(`circuits: the rebuilt artefacts differ from the committed ${stale.join(', ')}. ` +
      'If the circuits or the ptau changed on purpose, run `npm run build:circuits -- --update` and commit the result.');
  }
  if (wrote) return 'updated';
  log('circuits: committed verification keys and verifiers match the build');
  return 'match';
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const program = new Command('build:circuits')
    .description('compile the circuits, make their Groth16 keys, and check (or --update) the committed verification keys and Solidity verifiers')
    .option('--quiet', 'print nothing but errors', false)
    .option('--json', 'print the result as one JSON line on stdout, no progress', false)
    .option('--update', 'rewrite the committed keys and verifiers instead of checking them', false)
    .option('--force', 'rebuild even when circuits/build is current', false)
    .option('--ptau <file>', 'powers-of-tau file (env: FL_PTAU; default: the project\'s beacon-only file)')
    .addHelpText('after', '\nExit codes: 0 built (or current) and the committed artefacts match; 1 usage error, build failure, or committed artefacts that differ.')
    .parse();
  const o = program.opts<{ quiet: boolean; json: boolean; update: boolean; force: boolean; ptau?: string }>();
  try {
    const result = await buildCircuits(o);
    if (o.json) console.log(JSON.stringify(result));
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
