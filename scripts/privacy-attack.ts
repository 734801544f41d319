/**
 * `npm run attacks -- --privacy`: what the public learns about each data owner from what a
 * coordinator publishes. The same non-IID MNIST setting as the demo (CNN, K owners with
 * Dirichlet(alpha) label skew, real coordinator, real TensorFlow.js training) runs once with open
 * updates and once in secure mode; then an outside attacker, holding only what the coordinator
 * serves (GET /v1/updates, /v1/transcripts, /v1/checkpoints, /v1/manifests), infers which digit
 * classes each owner holds from the last layer's bias delta: a class whose bias rose more than the
 * round's mean delta did is "held" (softmax cross-entropy pushes up the bias of the labels an owner
 * trains on and down the others; comparing with the public mean removes what all owners share).
 *
 *   open mode:   the attacker reads each owner's float32 delta directly;
 *   secure mode: the attacker takes each owner's masked upload and removes everything the public
 *                transcript lets anyone remove (the survivors' self-masks and the dropouts'
 *                pairwise masks, rebuilt exactly as the auditor does), then reads the bias;
 *   baseline:    the best guess without any individual update: the better of guessing every
 *                owner's classes from the aggregate's bias alone (a class whose mean bias rose), a
 *                fair coin (0.5), and the constant guesses "held" and "not held" for every pair.
 * Accuracy is over (owner, class) pairs, against the truth "more than 10 % of the owner's
 * samples in that class"
 * (more than a uniform share). Expected: open high, secure at or below the baseline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Wallet } from 'ethers';
import { CoordinatorApi } from '../client/coordinator-api.ts';
import { forModel, mnistShard } from '../client/data/load-data.ts';
import { FederatedClient } from '../client/federated-client.ts';
import { initBackend } from '../client/tf/backend.ts';
import { parseEnv } from '../coordinator/config.ts';
import { ensureRedis } from '../coordinator/infra/redis-server.ts';
import { createLogger } from '../coordinator/logger.ts';
import { startCoordinator } from '../coordinator/server.ts';
import { contentHash, decodeCheckpoint, decodeFloat32, weightManifest, type Task } from '../protocol/index.ts';
import { DEFAULT_DOMAIN } from '../protocol/eip712.ts';
import { addWords, checkTranscript, fromHex, maskWords, pairwiseMaskSeed, recoverSecrets, SecureTranscript, signedWord, wordsFromBytes } from '../protocol/secagg/index.ts';
import { deletePrefixKeys } from './redis-cleanup.ts';

const o = new Command('attacks --privacy')
  .description('label inference against open and secure updates, in the demo setting')
  .option('--clients <K>', 'data owners', (v) => Number(v), 5)
  .option('--rounds <R>', 'rounds per mode (the attack reads every round)', (v) => Number(v), 4)
  .option('--alpha <a>', 'Dirichlet label skew', (v) => Number(v), 0.5)
  .option('--seed <s>', 'seed of split and partition', (v) => Number(v), 1)
  .option('--json', 'one JSON line per mode', false)
  .allowUnknownOption(true)
  .parse(process.argv.filter((a) => a !== '--privacy'))
  .opts<{ clients: number; rounds: number; alpha: number; seed: number; json: boolean }>();

// "Holds" a class: more than a uniform share (1 in 10) of its samples are of it, as label skew means.
const HOLD_SHARE = 0.1;
const log = createLogger('warn', 'privacy-attack');
const cleanups: (() => Promise<void>)[] = [];

interface Guesses {
  correct: number;
  total: number;
}
const acc = (g: Guesses) => g.correct / g.total;
function score(g: Guesses, truth: boolean[], guess: boolean[]) {
  for (let k = 0; k < truth.length; k++) {
    g.total++;
    if (truth[k] === guess[k]) g.correct++;
  }
}

async function runMode(mode: 'open' | 'secure') {
  const redis = await ensureRedis(process.env.REDIS_URL);
  cleanups.push(() => redis.stop());
  const prefix = `privacy-${randomBytes(4).toString('hex')}`;
  cleanups.push(() => deletePrefixKeys(redis.url, prefix));
  const dataDir = mkdtempSync(join(tmpdir(), 'fl-privacy-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const adminToken = randomBytes(16).toString('hex');
  const config = parseEnv({ ...process.env, PORT: '0', DATA_DIR: dataDir, ADMIN_TOKEN: adminToken, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' }, redis.url);
  const coordinator = await startCoordinator(config, { log });
  cleanups.push(() => coordinator.stop());
  const admin = new CoordinatorApi(coordinator.url, adminToken);
  const task: Task = await admin.createTask({
    name: `privacy-${mode}`,
    model: 'mnist-cnn',
    training: { localEpochs: 2, batchSize: 32, learningRate: 0.05, optimizer: 'sgd' },
    ...(mode === 'secure' ? { secure: { clipNorm: 10, range: 0.25, maxClients: Math.max(3, o.clients), phaseSeconds: 30 } } : {}),
    seed: o.seed,
  });
  const shards = Array.from({ length: o.clients }, (_, i) => forModel(mnistShard({ index: i, of: o.clients, alpha: o.alpha, seed: o.seed, trainDigits: 8000 }), task.modelSpec.inputShape));
  const clients = shards.map(() => new FederatedClient({ coordinatorUrl: coordinator.url, wallet: Wallet.createRandom(), pollMs: 50 }));
  for (const c of clients) await c.register(task.id);
  const addresses = await Promise.all(clients.map((c) => c.address()));
  const truth = new Map(
    shards.map((d, i) => {
      const counts = new Array(10).fill(0);
      for (const y of d.y) counts[y]++;
      return [addresses[i] as string, counts.map((c) => c / d.n >= HOLD_SHARE)];
    }),
  );
  const wm = weightManifest(task.modelSpec);
  const bias = wm.tensors[wm.tensors.length - 1]!;
  const attack: Guesses = { correct: 0, total: 0 };
  const baseline: Guesses = { correct: 0, total: 0 };
  const allHeld: Guesses = { correct: 0, total: 0 };
  const api = new CoordinatorApi(coordinator.url);
  for (let r = 1; r <= o.rounds; r++) {
    const round = await admin.openRound(task.id, { durationSeconds: 900, minClients: o.clients, maxClients: o.clients });
    await Promise.all(clients.map((c, i) => c.contribute({ task, round, data: shards[i]! })));
    let done = await api.getRound(task.id, r);
    while (done.state !== 'aggregated') {
      if (done.state === 'failed') throw new Error(`round ${r} failed: ${done.failureReason}`);
      await new Promise((res) => setTimeout(res, 100));
      done = await api.getRound(task.id, r);
    }
    // From here on, only public downloads.
    const fetchBytes = async (path: string) => {
      const b = new Uint8Array(await (await fetch(new URL(path, coordinator.url))).arrayBuffer());
      return b;
    };
    const base = decodeCheckpoint(await fetchBytes(`/v1/checkpoints/${done.baseHash}`)).weights;
    const next = decodeCheckpoint(await fetchBytes(`/v1/checkpoints/${done.checkpointHash}`)).weights;
    const meanBias = Array.from({ length: 10 }, (_, k) => (next[bias.offset + k] as number) - (base[bias.offset + k] as number));
    const aggGuess = meanBias.map((v) => v > 0);
    const manifest = (await api.getManifest(done.manifestHash!)).manifest;
    let strip: ((client: string, bytes: Uint8Array) => number[]) | null = null;
    if (manifest.secure) {
      const sec = manifest.secure;
      const transcript = SecureTranscript.parse(JSON.parse(new TextDecoder().decode(await fetchBytes(`/v1/transcripts/${sec.transcriptHash}`))));
      const domain = { ...DEFAULT_DOMAIN, chainId: task.eip712.chainId };
      const checked = checkTranscript(domain, transcript);
      const secrets = await recoverSecrets(domain, checked);
      strip = (client, bytes) => {
        const y = wordsFromBytes(sec.config.bits, bytes.slice());
        addWords(y, maskWords(secrets.selfSeeds.get(client)!, sec.config.bits, y.length), -1);
        for (const d of checked.dropped) {
          if (!checked.graph.adjacent(d, client)) continue; // on a SecAgg+ ring only neighbours share masks
          const seed = pairwiseMaskSeed(checked.scope, secrets.maskKeys.get(d)!, fromHex(checked.adverts.get(client)!.sPk), d, client);
          addWords(y, maskWords(seed, sec.config.bits, y.length), client < d ? -1 : 1);
        }
        return Array.from({ length: 10 }, (_, k) => signedWord(sec.config.bits, y[bias.offset + k] as number) / sec.scale);
      };
    }
    for (const e of manifest.entries) {
      if (e.status !== 'accepted') continue;
      const bytes = await fetchBytes(`/v1/updates/${e.updateHash}`);
      if ((await contentHash(bytes)) !== e.updateHash) throw new Error(`update ${e.updateHash} does not hash to its name`);
      const b = strip ? strip(e.client as string, bytes) : Array.from(decodeFloat32(bytes).subarray(bias.offset, bias.offset + 10));
      const t = truth.get(e.client as string)!;
      score(attack, t, b.map((v, k) => v > (meanBias[k] as number)));
      score(baseline, t, aggGuess);
      score(allHeld, t, t.map(() => true));
    }
  }
  await Promise.all(clients.map((c) => c.close()));
  const held = acc(allHeld);
  const best = Math.max(acc(baseline), 0.5, held, 1 - held);
  console.error(`  [privacy] ${mode}: ${attack.total} (owner, class) pairs; attack ${acc(attack).toFixed(3)}; aggregate-only rule ${acc(baseline).toFixed(3)}, all held ${held.toFixed(3)}, none held ${(1 - held).toFixed(3)}, coin 0.5`);
  return { attack: acc(attack), baseline: best, pairs: attack.total };
}

let code = 0;
try {
  await initBackend();
  const open = await runMode('open');
  const secure = await runMode('secure');
  if (o.json) {
    console.log(JSON.stringify({ mode: 'open', label_inference_acc: open.attack, baseline: open.baseline, pairs: open.pairs }));
    console.log(JSON.stringify({ mode: 'secure', label_inference_acc: secure.attack, baseline: secure.baseline, pairs: secure.pairs }));
  } else {
    console.log(`privacy: mode=open label_inference_acc=${open.attack.toFixed(3)}`);
    console.log(`privacy: mode=secure label_inference_acc=${secure.attack.toFixed(3)} baseline=${secure.baseline.toFixed(3)}`);
  }
} catch (e) {
  console.error(`attacks --privacy: FAILED: ${e instanceof Error ? e.message : e}`);
  code = 1;
} finally {
  for (const f of cleanups.reverse()) await f().catch(() => {});
}
process.exit(code);
