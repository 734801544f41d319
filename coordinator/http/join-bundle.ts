import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { loadArtifact } from '../../contracts/artifacts.ts';

/**
 * Bundles the data owner's page (client/web) for the browser with esbuild, in this process, once:
 * no build step to forget and no stale bundle. The page imports the very modules the CLI runs
 * (protocol/, client/federated-client.ts, client/rewards.ts, the training loop); the few that touch
 * the file system or Redis are swapped for their browser versions below, one line each, and the
 * bundle fails to build if anything else reaches for a Node built-in.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_DIR = join(ROOT, 'client', 'web');

/** Node module (repo path) → its browser version, with the same exports. */
export const BROWSER_SWAPS: Readonly<Record<string, string>> = {
  'contracts/artifacts.ts': 'client/web/browser/artifacts.ts', // ABIs inlined, no fs
  'protocol/zk/proofs.ts': 'client/web/browser/proofs.ts', // snarkjs in a Web Worker, circuit files over HTTP
  'client/tf/trainer.ts': 'client/web/browser/trainer.ts', // WebGL / wasm backends of the page
  'client/upload/queue-uploader.ts': 'client/web/browser/queue-uploader.ts', // no Redis from a page
};

/** Contracts whose ABIs the page needs (reading rewards, claiming). */
const PAGE_CONTRACTS = ['CheckpointRegistry', 'RewardDistributor'] as const;

export interface PageBundle {
  /** The page's script (ES module). */
  app: string;
  /** The prover worker's script (ES module). */
  proverWorker: string;
}

const swaps: esbuild.Plugin = {
  name: 'browser-swaps',
  setup(build) {
    build.onResolve({ filter: /\.ts$/ }, (args) => {
      if (!args.importer) return undefined;
      const target = relative(ROOT, resolve(args.resolveDir, args.path)).split('\\').join('/');
      const swap = BROWSER_SWAPS[target];
      return swap ? { path: join(ROOT, swap) } : undefined;
    });
    build.onResolve({ filter: /^fl:contract-abis$/ }, () => ({ path: 'contract-abis', namespace: 'fl' }));
    build.onLoad({ filter: /.*/, namespace: 'fl' }, () => ({
      contents: JSON.stringify(Object.fromEntries(PAGE_CONTRACTS.map((n) => [n, loadArtifact(n).abi]))),
      loader: 'json',
    }));
    // Node built-ins: only the lazily imported, guarded fast paths may remain (protocol/secagg
    // loads node:crypto inside `if (process.versions.node)`); a static import would break the page.
    build.onResolve({ filter: /^node:/ }, (args) => {
      if (args.kind === 'dynamic-import') return { path: args.path, external: true };
      return { errors: [{ text: `${args.path} is imported by ${relative(ROOT, args.importer)}, which the page cannot run: add a browser version to BROWSER_SWAPS` }] };
    });
  },
};

/**
 * Bundles one browser entry point (an absolute path) with the page's swaps: the join page's
 * scripts, and the browser-training benchmark's page (bench/browser-train-page.ts).
 */
export async function bundleForBrowser(entryPath: string, minify: boolean): Promise<string> {
  const r = await esbuild.build({
    entryPoints: [entryPath],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [swaps],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return r.outputFiles[0]!.text;
}

const bundle = (entry: string, minify: boolean) => bundleForBrowser(join(WEB_DIR, entry), minify);

let built: Promise<PageBundle> | undefined;

/** The page's scripts, bundled on first call and kept for the life of the process. */
export function pageBundle(opts: { minify?: boolean } = {}): Promise<PageBundle> {
  if (!built) {
    const minify = opts.minify ?? true;
    built = Promise.all([bundle('main.ts', minify), bundle('prover-worker.ts', minify)]).then(([app, proverWorker]) => ({ app, proverWorker }));
    built.catch(() => (built = undefined));
  }
  return built;
}

/** The page's static HTML, read once. */
export const pageHtml = (() => {
  let html: string | undefined;
  return () => (html ??= readFileSync(join(WEB_DIR, 'join.html'), 'utf8'));
})();
