import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { CircuitName } from '../../circuits/artefacts.ts';
import { activeKeySet } from '../../circuits/key-set.ts';
import { TaskId } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from '../use-cases/parse.ts';
import { parseShard, sampleCsv } from '../use-cases/sample-data.ts';
import { pageBundle, pageHtml, WEB_DIR } from './join-bundle.ts';

/**
 * The data owner's page at /join/: its HTML and styles, its two bundled scripts (built in this
 * process on first request), the files it runs on (tfjs' .wasm, uPlot, the circuit files for
 * private tasks) and sample data to try it with. All same-origin: the page fetches nothing from
 * anywhere else except the chain's RPC URL, for rewards.
 */

const require_ = createRequire(import.meta.url);
const UPLOT_DIR = dirname(require_.resolve('uplot/dist/uPlot.iife.min.js'));
/** tfjs' .wasm binaries, served to the page (and to the browser-training benchmark's page). */
export const TFJS_WASM_DIR = dirname(require_.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

const SampleQuery = z.object({ task: TaskId, shard: z.string() });
const ZkParams = z.object({ file: z.string().regex(/^(membership|claim)\.(wasm|zkey|vkey\.json)$/, 'membership or claim, .wasm, .zkey or .vkey.json') });

export interface JoinPageOptions {
  /** The chain RPC URL the page reads rewards from (GET /v1/chain's), allowed by its CSP. */
  rpcUrl?: string | undefined;
}

/** The page's policy: the coordinator's own, plus compiling WebAssembly (tfjs, snarkjs), workers and the chain's RPC. */
export function joinPagePolicy(rpcUrl: string | undefined): string {
  let rpc = '';
  try {
    if (rpcUrl) rpc = ` ${new URL(rpcUrl).origin}`;
  } catch {
    // an unparseable RPC URL is not allowed: rewards then say the chain cannot be reached
  }
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${rpc}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

type Handler = (req: Request, res: Response) => Promise<void>;
const route = (h: Handler) => (req: Request, res: Response, next: NextFunction) => h(req, res).catch(next);

export function mountJoinPage(app: express.Express, ctx: CoordinatorContext, opts: JoinPageOptions): void {
  const policy = joinPagePolicy(opts.rpcUrl);
  const page = express.Router();
  page.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', policy);
    next();
  });
  page.get('/', (req, res) => {
    // The page's scripts and styles are relative to /join/: send /join there first.
    const [path, query] = req.originalUrl.split('?');
    if (!path!.endsWith('/')) return res.redirect(302, `${path}/${query === undefined ? '' : `?${query}`}`);
    res.type('html').send(pageHtml());
  });
  page.get('/join.css', (_req, res) => res.sendFile(join(WEB_DIR, 'join.css')));
  const script = (pick: 'app' | 'proverWorker') =>
    route(async (_req, res) => {
      let b;
      try {
        b = await pageBundle();
      } catch (e) {
        ctx.log.error({ err: e }, 'join page bundle failed');
        throw new AppError('PAGE_BUILD_FAILED', 500, `the join page could not be bundled: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      }
      res.type('text/javascript').setHeader('cache-control', 'no-cache');
      res.send(b[pick]);
    });
  page.get('/app.js', script('app'));
  page.get('/prover-worker.js', script('proverWorker'));
  page.use('/vendor/tfjs-wasm', express.static(TFJS_WASM_DIR, { index: false, maxAge: '1d', extensions: [] }));
  page.use('/vendor', express.static(UPLOT_DIR, { index: false, maxAge: '1d' }));
  page.get('/zk/:file', (req, res, next) => {
    const { file } = parseOr400(ZkParams, req.params, 'path');
    const circuit = file.split('.')[0] as CircuitName;
    const keys = activeKeySet();
    if (file.endsWith('.vkey.json')) {
      res.json(keys.vkey(circuit));
      return;
    }
    const path = file.endsWith('.wasm') ? keys.wasm(circuit) : keys.zkey(circuit);
    res.sendFile(path, (err) => err && next(notFound(`circuit file ${file} (run npm run build:circuits)`)));
  });
  page.get('/sample.csv', route(async (req, res) => {
    const q = parseOr400(SampleQuery, req.query, 'query');
    const task = await ctx.tasks.get(q.task);
    if (!task) throw notFound(`task ${q.task}`);
    res.type('text/csv').send(sampleCsv(task, parseShard(q.shard)));
  }));
  app.use('/join', page);
}
