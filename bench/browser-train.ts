/**
 * What training costs in the data owner's page (issue 16): the same model, data and settings trained
 * by the page's code in headless Chromium (Debian's, driven by playwright-core) and by the Node
 * client's trainer in this process, in the same run.
 *   samples_per_s = samples x epochs / best wall time of a training in the page (after a warm-up);
 *   node_ratio    = that / the same figure of the Node client (its own backend, client/tf/backend.ts).
 * The page's backend is the one it picks for a data owner (WebGL when the browser has a GPU context,
 * else wasm); wasm is also measured on its own, as it is the like-for-like comparison with Node.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { subset } from '../client/data/dataset.ts';
import { loadMnist } from '../client/data/mnist.ts';
import { initBackend } from '../client/tf/backend.ts';
import { trainLocal, type TrainingConfig } from '../client/tf/trainer.ts';
import { bundleForBrowser } from '../coordinator/http/join-bundle.ts';
import { TFJS_WASM_DIR } from '../coordinator/http/join-page.ts';
import { initialWeights, PRESET_MODELS, type ModelSpec } from '../protocol/index.ts';
import { note } from './common.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface BrowserTrainRun {
  backend: string;
  samplesPerSecond: number;
  ms: number;
  loss: number;
}

export interface BrowserTrainResult {
  samples: number;
  epochs: number;
  /** The backend the page picks by itself. */
  page: BrowserTrainRun;
  /** The page forced to wasm (?backend=wasm), when its own pick was something else. */
  pageWasm?: BrowserTrainRun;
  /** The page forced to WebGL (?backend=webgl), when its own pick was something else (a software GL is skipped). */
  pageWebgl?: BrowserTrainRun;
  node: BrowserTrainRun;
  nodeRatio: number;
  skipped: string[];
}

const bin = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export async function benchBrowserTrain(o: { samples: number; runs: number; model?: string }): Promise<BrowserTrainResult> {
  const ensure = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-debian-packages.sh'), 'chromium'], { encoding: 'utf8' });
  if (ensure.status !== 0) throw new Error(`chromium is needed for bench: browser-train: ${ensure.stderr.trim()}`);
  const model = o.model ?? 'mnist-cnn';
  const spec = PRESET_MODELS[model as keyof typeof PRESET_MODELS] as unknown as ModelSpec;
  const training: TrainingConfig = { localEpochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam' };
  const mnist = loadMnist();
  const data = subset(mnist, Array.from({ length: o.samples }, (_, i) => (i * 131) % mnist.n));
  const base = initialWeights(spec, 1);
  const warmupN = Math.min(64, o.samples);
  const features = data.x.length / data.n;
  const sps = (ms: number) => (o.samples * training.localEpochs) / (ms / 1000);

  // Node: the CLI's trainer, warmed up the same way.
  const nodeBackend = await initBackend();
  await trainLocal({ spec, baseWeights: base, data: { x: data.x.subarray(0, warmupN * features), y: data.y.subarray(0, warmupN), n: warmupN }, training, seed: 1 });
  const times: number[] = [];
  let nodeLoss = NaN;
  for (let i = 0; i < o.runs; i++) {
    const t = performance.now();
    nodeLoss = (await trainLocal({ spec, baseWeights: base, data, training, seed: 1 })).loss;
    times.push(performance.now() - t);
  }
  const nodeMs = Math.min(...times);
  const node: BrowserTrainRun = { backend: nodeBackend.name, ms: nodeMs, samplesPerSecond: sps(nodeMs), loss: nodeLoss };
  note(`browser-train node (${node.backend}): ${node.samplesPerSecond.toFixed(1)} samples/s, runs ${times.map((t) => t.toFixed(0)).join('/')} ms`);

  const app = await bundleForBrowser(join(ROOT, 'bench', 'browser-train-page.ts'), true);
  const files: Record<string, [string, Buffer | string]> = {
    '/': ['text/html', '<!doctype html><meta charset="utf-8"><title>browser-train bench</title><script type="module" src="app.js"></script>'],
    '/app.js': ['text/javascript', app],
    '/job.json': ['application/json', JSON.stringify({ spec, training, n: o.samples, warmupN, runs: o.runs, features })],
    '/x.bin': ['application/octet-stream', bin(data.x)],
    '/y.bin': ['application/octet-stream', bin(data.y)],
    '/weights.bin': ['application/octet-stream', bin(base)],
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const wasm = path.match(/^\/vendor\/tfjs-wasm\/([\w.-]+\.wasm)$/);
    if (wasm) {
      res.writeHead(200, { 'content-type': 'application/wasm' }).end(readFileSync(join(TFJS_WASM_DIR, wasm[1]!)));
      return;
    }
    const f = files[path];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f[0] }).end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const inPage = async (backend: string | null): Promise<BrowserTrainRun & { skipped: string[] }> => {
      const ctx = await browser.newContext();
      try {
        const page = await ctx.newPage();
        await page.goto(url);
        await page.waitForFunction(() => 'benchTrain' in globalThis);
        const r = await page.evaluate((b) => (globalThis as unknown as { benchTrain: (b: string | null) => Promise<{ backend: string; skipped: string[]; ms: number; times: number[]; loss: number }> }).benchTrain(b), backend);
        note(`browser-train page (${r.backend}${backend ? ', forced' : ''}): ${sps(r.ms).toFixed(1)} samples/s, runs ${r.times.map((t) => t.toFixed(0)).join('/')} ms${r.skipped.length ? `; skipped ${r.skipped.join('; ')}` : ''}`);
        return { backend: r.backend, ms: r.ms, samplesPerSecond: sps(r.ms), loss: r.loss, skipped: r.skipped };
      } finally {
        await ctx.close();
      }
    };
    const page = await inPage(null);
    const pageWasm = page.backend === 'wasm' ? undefined : await inPage('wasm');
    // The page skips a software WebGL; measure it anyway, as the figure behind that choice.
    const pageWebgl = page.backend === 'webgl' ? undefined : await inPage('webgl').catch((e: unknown) => (note(`browser-train page (webgl, forced) failed: ${e instanceof Error ? e.message.split('\n')[0] : e}`), undefined));
    return { samples: o.samples, epochs: training.localEpochs, page, pageWasm, pageWebgl, node, nodeRatio: page.samplesPerSecond / node.samplesPerSecond, skipped: page.skipped };
  } finally {
    await browser.close();
    server.close();
  }
}
