import { readdirSync, readFileSync } from 'node:fs';
import { join, normalize, relative, sep } from 'node:path';
import { z } from 'zod';
import { packageDir, REPO_ROOT, SRC_DIR } from './paths.ts';

/**
 * One solc standard-JSON compilation of contracts/src with the pinned `solc` npm package (solcjs, so
 * no native compiler and no download). Imports of `@openzeppelin/contracts/...` are served from
 * node_modules through solc's import callback; nothing else outside contracts/src can be read.
 */

/** Compiler settings; part of the build's input hash, so changing one forces a rebuild. */
export const SOLC_SETTINGS = {
  // cancun: the newest fork every major EVM chain and L2 runs; the contracts need its transient
  // storage (EIP-1153) for the reentrancy guard. anvil's default fork is newer and runs it too.
  evmVersion: 'cancun',
  // Runtime gas matters (a commit per round, a claim per contributor), deployment happens once.
  optimizer: { enabled: true, runs: 10_000 },
  viaIR: false,
} as const;

/** Packages whose files Solidity sources may import, by import prefix. */
const IMPORTABLE_PACKAGES = ['@openzeppelin/contracts'];

export interface CompiledContract {
  contractName: string;
  sourceName: string;
  abi: unknown[];
  bytecode: `0x${string}`;
  deployedBytecode: `0x${string}`;
}

export interface CompileResult {
  contracts: CompiledContract[];
  warnings: string[];
  /** Source unit names of every imported package file, so the build can hash them next time. */
  dependencies: string[];
}

/** Source unit names (repo-relative, '/'-separated) and contents of every .sol file under contracts/src. */
export function ownSources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.sol')) out.set(relative(REPO_ROOT, p).split(sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(SRC_DIR);
  return out;
}

/** Contents of an importable package file by its source unit name, or undefined when it is not one. */
export function readDependency(unitName: string): string | undefined {
  for (const pkg of IMPORTABLE_PACKAGES) {
    if (!unitName.startsWith(`${pkg}/`)) continue;
    const root = packageDir(pkg);
    const file = normalize(join(root, unitName.slice(pkg.length + 1)));
    // solc normalises unit names, but a crafted `../` must still not escape the package.
    if (!file.startsWith(root + sep)) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const SolcOutput = z.object({
  errors: z
    .array(
      z.object({
        severity: z.string(),
        formattedMessage: z.string(),
        sourceLocation: z.object({ file: z.string() }).optional(),
      }),
    )
    .optional(),
  contracts: z
    .record(
      z.string(),
      z.record(
        z.string(),
        z.object({
          abi: z.array(z.unknown()),
          evm: z.object({ bytecode: z.object({ object: z.string() }), deployedBytecode: z.object({ object: z.string() }) }),
        }),
      ),
    )
    .optional(),
});

/** Compiles; throws with the compiler's own messages when any source has an error. */
export async function compile(): Promise<CompileResult> {
  // Loading solcjs (an 8 MB emscripten module) takes a while, so only a real compile pays for it.
  const { default: solc } = await import('solc');
  const sources = ownSources();
  if (sources.size === 0) throw new Error(`no .sol files under ${relative(REPO_ROOT, SRC_DIR)}`);

  const selection = Object.fromEntries(
    [...sources.keys()].map((name) => [name, { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] }]),
  );
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries([...sources].map(([name, content]) => [name, { content }])),
    settings: { ...SOLC_SETTINGS, outputSelection: selection },
  };

  const dependencies = new Set<string>();
  const findImports = (unitName: string) => {
    const contents = readDependency(unitName);
    if (contents === undefined) return { error: `not found: ${unitName} (only ${IMPORTABLE_PACKAGES.join(', ')} and contracts/src can be imported)` };
    dependencies.add(unitName);
    return { contents };
  };

  const raw: unknown = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const output = SolcOutput.parse(raw);
  const problems = output.errors ?? [];
  const errors = problems.filter((p) => p.severity === 'error').map((p) => p.formattedMessage.trim());
  if (errors.length > 0) throw new Error(`solc ${solc.version()} failed:\n${errors.join('\n\n')}`);

  const contracts: CompiledContract[] = [];
  for (const [sourceName, byName] of Object.entries(output.contracts ?? {})) {
    for (const [contractName, c] of Object.entries(byName)) {
      contracts.push({
        contractName,
        sourceName,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      });
    }
  }
  // Warnings inside imported packages (OpenZeppelin's deliberate tstore use, for one) are theirs to
  // review, not ours; only warnings about our own sources are reported.
  const warnings = problems
    .filter((p) => p.severity !== 'error' && (p.sourceLocation === undefined || sources.has(p.sourceLocation.file)))
    .map((p) => p.formattedMessage.trim());
  return { contracts, warnings, dependencies: [...dependencies].sort() };
}

/**
 * Compiles one self-contained source (a Groth16 verifier exported by a setup ceremony) with the same
 * compiler and settings as contracts/src, so its deployed bytecode is what an auditor reproduces.
 */
export async function compileStandalone(unitName: string, content: string, contractName: string): Promise<CompiledContract> {
  const { default: solc } = await import('solc');
  const input = {
    language: 'Solidity',
    sources: { [unitName]: { content } },
    settings: { ...SOLC_SETTINGS, outputSelection: { [unitName]: { [contractName]: ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } } },
  };
  const output = SolcOutput.parse(JSON.parse(solc.compile(JSON.stringify(input), { import: (u: string) => ({ error: `not found: ${u} (a standalone source imports nothing)` }) })));
  const errors = (output.errors ?? []).filter((p) => p.severity === 'error').map((p) => p.formattedMessage.trim());
  if (errors.length > 0) throw new Error(`solc ${solc.version()} failed on ${unitName}:\n${errors.join('\n\n')}`);
  const c = output.contracts?.[unitName]?.[contractName];
  if (!c) throw new Error(`solc produced no contract ${contractName} from ${unitName}`);
  return { contractName, sourceName: unitName, abi: c.abi, bytecode: `0x${c.evm.bytecode.object}`, deployedBytecode: `0x${c.evm.deployedBytecode.object}` };
}
