import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the contract sources, build outputs and packages live, independent of the working directory. */
export const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = dirname(CONTRACTS_DIR);
export const SRC_DIR = join(CONTRACTS_DIR, 'src');
export const OUT_DIR = join(CONTRACTS_DIR, 'out');
export const TYPES_DIR = join(OUT_DIR, 'types');

const require = createRequire(import.meta.url);

/** Folder of an installed package (found through its package.json, which every package has). */
export function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** Installed version of a package, or undefined when it is not installed. */
export function packageVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}
