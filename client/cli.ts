#!/usr/bin/env -S node --import tsx
/**
 * fl-client: the data owner's command line. Exit codes: 0 done, 1 usage or input error,
 * 2 coordinator refused or rejected the update, 3 timed out waiting for a round.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Dataset } from './data/dataset.ts';
import { forModel, loadDataFile, mnistShard } from './data/load-data.ts';
import { CoordinatorApi, CoordinatorError } from './coordinator-api.ts';
import { FederatedClient, type UploadMode } from './federated-client.ts';
import { createProgress } from './progress.ts';
import { initBackend } from './tf/backend.ts';
import { loadOrCreateWallet } from './wallet-file.ts';

const EXIT = { ok: 0, usage: 1, refused: 2, timeout: 3 } as const;

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
const shard = (v: string) => {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[1]) >= Number(m[2])) throw new InvalidArgumentError('use i/K with 0 <= i < K, e.g. 0/5');
  return { index: Number(m[1]), of: Number(m[2]) };
};

interface JoinOptions {
  coordinator: string;
  task: number;
  keyFile: string;
  data?: string;
  mnistShard?: { index: number; of: number };
  alpha: number;
  splitSeed: number;
  rounds: number;
  upload: 'http' | 'queue';
  redisUrl?: string;
  redisPrefix: string;
  waitSeconds: number;
  backend?: 'node' | 'wasm' | 'cpu';
  json: boolean;
}

const out = (json: boolean, event: Record<string, unknown>, text: string) => {
  process.stdout.write(json ? `${JSON.stringify(event)}\n` : `${text}\n`);
};

async function join(o: JoinOptions): Promise<number> {
  const backend = await initBackend(o.backend);
  const { wallet, created } = loadOrCreateWallet(o.keyFile);
  const address = wallet.address.toLowerCase();
  const api = new CoordinatorApi(o.coordinator);
  const task = await api.getTask(o.task);
  let data: Dataset;
  if (o.data) data = await loadDataFile(o.data, task.modelSpec.inputShape, task.modelSpec.classes);
  else if (o.mnistShard) data = forModel(mnistShard({ ...o.mnistShard, alpha: o.alpha, seed: o.splitSeed }), task.modelSpec.inputShape);
  else throw new InvalidArgumentError('give --data FILE (your own data) or --mnist-shard i/K (a simulated share of MNIST)');
  out(o.json, { event: 'ready', address, created, backend: backend.name, task: task.id, samples: data.n }, `client ${address}${created ? ' (new key in ' + o.keyFile + ')' : ''}: ${data.n} samples, backend ${backend.name}, task ${task.id} "${task.name}"`);

  const upload: UploadMode = o.upload === 'queue' ? { mode: 'queue', redisUrl: o.redisUrl ?? 'redis://127.0.0.1:6379', prefix: o.redisPrefix } : { mode: 'http' };
  const client = new FederatedClient({ coordinatorUrl: o.coordinator, wallet, upload });
  const progress = createProgress({ json: o.json });
  try {
    await client.register(task.id);
    let last = (await api.currentRound(task.id))?.round ?? 0;
    // A round already open when we start is one we can still join.
    const current = await api.currentRound(task.id);
    if (current?.state === 'open') last = current.round - 1;
    for (let done = 0; done < o.rounds; done++) {
      const round = await client.waitForOpenRound(task.id, last, o.waitSeconds * 1000);
      if (!round) {
        out(o.json, { event: 'timeout', after: last }, `no new round opened within ${o.waitSeconds} s`);
        return EXIT.timeout;
      }
      last = round.round;
      const epochs = round.training.localEpochs;
      progress.start(`round ${round.round} training`, epochs);
      const started = Date.now();
      const res = await client.contribute({
        task,
        round,
        data,
        onProgress: (p) => progress.update(p.epoch - 1 + p.batch / p.batches, `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)}`),
      });
      progress.stop(`trained ${res.numSamples} samples in ${((Date.now() - started) / 1000).toFixed(1)} s, loss ${res.loss.toFixed(4)}`);
      const decision = await client.waitForDecision(task.id, round.round, res.jobId, 120_000);
      if (decision.status === 'rejected') {
        out(o.json, { event: 'rejected', round: round.round, ...decision }, `round ${round.round}: update REJECTED (${decision.code}): ${decision.reason}`);
        return EXIT.refused;
      }
      out(o.json, { event: 'accepted', round: round.round, updateHash: res.updateHash, via: res.via, loss: res.loss, samples: res.numSamples }, `round ${round.round}: update ${res.updateHash.slice(0, 12)}… accepted (${res.via})`);
    }
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('fl-client').description('Data-owner client of the verifiable federated-learning coordinator').showHelpAfterError();
  program
    .command('join')
    .description('register, then train on your data and upload a signed update for each of the next rounds')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .requiredOption('--task <id>', 'task id', int('task'))
    .option('--key-file <path>', 'private key file (created if missing; FL_PRIVATE_KEY overrides)', 'fl-client.key')
    .option('--data <file.json>', 'your data: {"x": number[][], "y": number[]}')
    .option('--mnist-shard <i/K>', 'simulate owner i of K with a Dirichlet share of the MNIST digits', shard)
    .option('--alpha <a>', 'Dirichlet label-skew concentration for --mnist-shard', parseFloat, 0.5)
    .option('--split-seed <n>', 'seed of the MNIST split and partition', int('split-seed'), 1)
    .option('--rounds <n>', 'rounds to take part in', int('rounds'), 1)
    .addOption(new Option('--upload <how>', 'upload path').choices(['http', 'queue']).default('http'))
    .option('--redis-url <url>', 'Redis for --upload queue', process.env.REDIS_URL)
    .option('--redis-prefix <p>', 'coordinator key prefix for --upload queue', process.env.REDIS_PREFIX ?? 'fl')
    .option('--wait-seconds <n>', 'how long to wait for each round to open', int('wait-seconds'), 600)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['node', 'wasm', 'cpu']))
    .option('--json', 'one JSON object per line on stdout, no progress bars', false)
    .action(async (o: JoinOptions) => {
      process.exitCode = await join(o);
    });
  program
    .command('task <id>')
    .description('show a task')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .action(async (id: string, o: { coordinator: string }) => {
      process.stdout.write(`${JSON.stringify(await new CoordinatorApi(o.coordinator).getTask(int('id')(id)), null, 2)}\n`);
    });
  program
    .command('round <task> [round]')
    .description('show a round (default: the newest)')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .action(async (task: string, round: string | undefined, o: { coordinator: string }) => {
      const api = new CoordinatorApi(o.coordinator);
      const r = round ? await api.getRound(int('task')(task), int('round')(round)) : await api.currentRound(int('task')(task));
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    });
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CoordinatorError) {
      console.error(`fl-client: coordinator said ${e.code}: ${e.message}`);
      return EXIT.refused;
    }
    console.error(`fl-client: ${e instanceof Error ? e.message : e}`);
    return EXIT.usage;
  }
}

process.exit(await main(process.argv));
