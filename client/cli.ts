#!/usr/bin/env -S node --import tsx
/**
 * fl-client: the data owner's command line. Exit codes: 0 done, 1 usage or input error,
 * 2 the coordinator or the chain refused (a rejected update, a reverted claim, data that does not
 * check out), 3 timed out waiting for a round.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatUnits, Wallet } from 'ethers';
import { terminateZk, type Identity } from '../protocol/zk/index.ts';
import type { Dataset } from './data/dataset.ts';
import { DEMO_TRAIN_DIGITS, forModel, loadDataFile, mnistShard } from './data/load-data.ts';
import { CoordinatorApi, CoordinatorError } from './coordinator-api.ts';
import { FederatedClient, FederatedClientError, type UploadMode } from './federated-client.ts';
import { SecureRoundError } from './secure-round.ts';
import { createIdentityFile, identityFileWarning, IdentityFileError, readIdentityFile } from './identity-file.ts';
import { createProgress, createStepProgress, type StepProgress } from './progress.ts';
import { initBackend } from './tf/backend.ts';
import { ensureContractArtifacts } from './ensure-artifacts.ts';
import { claimPrivateRewards, claimRewards, listPrivateRewards, listRewards, RewardsError, type ClaimResult, type PrivateClaimResult, type RewardLine } from './rewards.ts';
import { loadOrCreateWallet } from './wallet-file.ts';
import { ClusterNodesList, type ClusterNode } from '../protocol/redis-target.ts';

const EXIT = { ok: 0, usage: 1, refused: 2, timeout: 3 } as const;

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
/** --redis-cluster-nodes / REDIS_CLUSTER_NODES: the coordinator's own syntax and messages. */
const clusterNodes = (v: string): ClusterNode[] => {
  const r = ClusterNodesList.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
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
  identity?: string;
  data?: string;
  mnistShard?: { index: number; of: number };
  alpha: number;
  splitSeed: number;
  trainDigits: number;
  slowdown: number;
  rounds: number;
  upload: 'http' | 'queue';
  redisUrl?: string;
  redisClusterNodes?: ClusterNode[];
  redisPrefix: string;
  waitSeconds: number;
  backend?: 'node' | 'wasm' | 'cpu';
  json: boolean;
}

const out = (json: boolean, event: Record<string, unknown>, text: string) => {
  process.stdout.write(json ? `${JSON.stringify(event)}\n` : `${text}\n`);
};

/** A member identity file, with a warning on stderr when others can read it. */
function loadIdentity(file: string): Identity {
  const id = readIdentityFile(file);
  const warning = identityFileWarning(file);
  if (warning) console.error(`fl-client: warning: ${warning}`);
  return id;
}

/** A short form of a commitment or nullifier for text output. */
const short = (v: string) => (v.length > 14 ? `${v.slice(0, 10)}…${v.slice(-4)}` : v);

/**
 * Where updates go. Through a cluster the credentials are REDIS_USERNAME and REDIS_PASSWORD (kept
 * off the command line), as for the coordinator; a single Redis takes them in --redis-url.
 */
function uploadMode(o: JoinOptions): UploadMode {
  if (o.upload !== 'queue') return { mode: 'http' };
  if (!o.redisClusterNodes) return { mode: 'queue', redisUrl: o.redisUrl ?? 'redis://127.0.0.1:6379', prefix: o.redisPrefix };
  const { REDIS_USERNAME: username, REDIS_PASSWORD: password } = process.env;
  return { mode: 'queue', prefix: o.redisPrefix, redisCluster: { nodes: o.redisClusterNodes, ...(username ? { username } : {}), ...(password ? { password } : {}) } };
}

async function join(o: JoinOptions): Promise<number> {
  const backend = await initBackend(o.backend);
  const api = new CoordinatorApi(o.coordinator);
  const task = await api.getTask(o.task);
  const isPrivate = task.privacy === 'private';
  if (isPrivate && !o.identity) throw new InvalidArgumentError(`task ${task.id} is private: give --identity FILE (make one with \`fl-client identity new --out FILE\` and have the task admin admit its commitment)`);
  if (!isPrivate && o.identity) throw new InvalidArgumentError(`task ${task.id} is public: --identity is for private tasks (a public task takes the wallet of --key-file or FL_PRIVATE_KEY)`);
  let data: Dataset;
  if (o.data) data = await loadDataFile(o.data, task.modelSpec.inputShape, task.modelSpec.classes);
  else if (o.mnistShard) data = forModel(mnistShard({ ...o.mnistShard, alpha: o.alpha, seed: o.splitSeed, trainDigits: o.trainDigits }), task.modelSpec.inputShape);
  else throw new InvalidArgumentError('give --data FILE (your own data) or --mnist-shard i/K (a simulated share of MNIST)');

  const upload = uploadMode(o);
  let client: FederatedClient;
  if (isPrivate) {
    const identity = loadIdentity(o.identity!);
    const commitment = identity.commitment.toString();
    out(o.json, { event: 'ready', private: true, commitment, backend: backend.name, task: task.id, samples: data.n }, `member ${short(commitment)}: ${data.n} samples, backend ${backend.name}, private task ${task.id} "${task.name}"`);
    const members = await api.members(task.id);
    if (!members.commitments.includes(commitment)) {
      out(o.json, { event: 'not-admitted', commitment, members: members.count }, `identity ${short(commitment)} is not admitted to task ${task.id} yet: give the task admin your commitment (fl-client identity show); waiting for rounds anyway`);
    }
    client = new FederatedClient({ coordinatorUrl: o.coordinator, api, identity, upload });
  } else {
    const { wallet, created } = loadOrCreateWallet(o.keyFile);
    const address = wallet.address.toLowerCase();
    out(o.json, { event: 'ready', address, created, backend: backend.name, task: task.id, samples: data.n }, `client ${address}${created ? ' (new key in ' + o.keyFile + ')' : ''}: ${data.n} samples, backend ${backend.name}, task ${task.id} "${task.name}"`);
    client = new FederatedClient({ coordinatorUrl: o.coordinator, api, wallet, upload });
  }
  const progress = createProgress({ json: o.json });
  try {
    if (!isPrivate) await client.register(task.id);
    let last = (await api.currentRound(task.id))?.round ?? 0;
    // A round already open when we start is one we can still join.
    const current = await api.currentRound(task.id);
    if (current?.state === 'open') last = current.round - 1;
    for (let done = 0; done < o.rounds; ) {
      const round = await client.waitForOpenRound(task.id, last, o.waitSeconds * 1000);
      if (!round) {
        out(o.json, { event: 'timeout', after: last }, `no new round opened within ${o.waitSeconds} s`);
        return EXIT.timeout;
      }
      last = round.round;
      if (isPrivate) {
        // A member admitted after this round opened is not in its snapshot: wait for the next.
        if (!(await client.isRoundMember(round))) {
          out(o.json, { event: 'skipped', round: round.round, code: 'NOT_A_MEMBER' }, `round ${round.round}: this identity is not among its ${round.membersCount} members (not admitted when it opened); waiting for the next round`);
          continue;
        }
      }
      const epochs = round.training.localEpochs;
      progress.start(`round ${round.round} training`, epochs);
      const started = Date.now();
      // After training: [prove,] upload, wait for the worker's decision.
      let upload: StepProgress | undefined;
      let res: Awaited<ReturnType<typeof client.contribute>>;
      try {
        res = await client.contribute({
          task,
          round,
          data,
          onProgress: (p) => progress.update(p.epoch - 1 + p.batch / p.batches, `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)}`),
          ...(o.slowdown > 1 ? { beforeUpload: () => sleep((o.slowdown - 1) * (Date.now() - started)) } : {}),
          onStage: (stage, bytes) => {
            if (stage === 'trained') {
              progress.stop(`trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);
              upload = createStepProgress(`round ${round.round} upload`, isPrivate ? 3 : 2, { json: o.json });
            } else if (stage === 'proved') upload?.step('membership proof made');
            else upload?.step(`${(bytes / 1024).toFixed(0)} KiB sent via ${o.upload}, waiting for the worker`);
          },
        });
      } catch (e) {
        // A secure round that moved on without this client (it came late to a phase): the next round will do.
        if (e instanceof SecureRoundError && e.code === 'ROUND_MISSED') {
          progress.stop('missed');
          out(o.json, { event: 'skipped', round: round.round, code: e.code }, `round ${round.round}: ${e.message}; waiting for the next round`);
          continue;
        }
        throw e;
      }
      const decision = await client.waitForDecision(task.id, round.round, res, 120_000, task.async?.maxStaleness ?? 0);
      upload?.step(decision.status);
      upload?.done();
      // Async tasks: a too-stale update is the price of a slow device, not an error; train again on the newest checkpoint.
      if (decision.status === 'rejected' && decision.code === 'STALE' && task.async) {
        out(o.json, { event: 'skipped', round: round.round, code: decision.code, reason: decision.reason }, `round ${round.round}: update too stale (${decision.reason}); training again on the newest checkpoint`);
        continue;
      }
      if (decision.status === 'rejected') {
        out(o.json, { event: 'rejected', round: round.round, ...decision }, `round ${round.round}: update REJECTED (${decision.code}): ${decision.reason}`);
        return EXIT.refused;
      }
      // Async: the update may have landed in a later buffer; one update per sender per buffer, so
      // the next training starts on a buffer opened after that one.
      if (decision.round !== undefined) last = Math.max(last, decision.round);
      const who = res.nullifier ? { nullifier: res.nullifier } : {};
      out(o.json, { event: 'accepted', round: round.round, updateHash: res.updateHash, via: res.via, loss: res.loss, samples: res.numSamples, ...who }, `round ${round.round}: update ${res.updateHash.slice(0, 12)}… accepted (${res.via}${res.nullifier ? `, nullifier ${short(res.nullifier)}` : ''})`);
      done++;
    }
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

const slowdown = (v: string) => {
  const x = Number(v);
  if (!Number.isFinite(x) || x < 1 || x > 1000) throw new InvalidArgumentError('must be a number in [1, 1000]');
  return x;
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const address = (v: string) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new InvalidArgumentError('must be a 0x-prefixed 20-byte hex address');
  return v.toLowerCase();
};
const httpUrl = (v: string) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('must be a URL, e.g. http://127.0.0.1:8545');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError('must be an http(s) URL');
  return v;
};
const rounds = (v: string, prev: number[]) => [...prev, int('round')(v)];

/** Rewards use 18-decimal tokens; amounts are shown in base units and in whole tokens. */
const TOKEN_DECIMALS = 18;
const tokens = (amount: bigint) => formatUnits(amount, TOKEN_DECIMALS);

/** An existing key only (FL_PRIVATE_KEY, else the key file): a key made up now would be owed nothing. */
function existingWallet(keyFile: string) {
  if (!process.env.FL_PRIVATE_KEY && !existsSync(keyFile)) {
    throw new InvalidArgumentError(`no key: ${keyFile} does not exist and FL_PRIVATE_KEY is not set (give --key-file)`);
  }
  return loadOrCreateWallet(keyFile).wallet;
}

/** Runs a rewards command: a refusal of the coordinator or the chain is exit 2, a bad input exit 1. */
async function refusals(run: () => Promise<number>): Promise<number> {
  await ensureContractArtifacts();
  try {
    return await run();
  } catch (e) {
    if (e instanceof RewardsError) {
      console.error(`fl-client: ${e.code}: ${e.message}`);
      return EXIT.refused;
    }
    if (e instanceof CoordinatorError) {
      console.error(`fl-client: coordinator said ${e.code}: ${e.message}`);
      return EXIT.refused;
    }
    if (e instanceof TypeError && e.message === 'fetch failed') {
      const why = e.cause instanceof Error ? e.cause.message : '';
      console.error(`fl-client: the coordinator did not answer${why ? `: ${why}` : ''}`);
      return EXIT.refused;
    }
    throw e;
  }
}

interface RewardsOptions {
  coordinator: string;
  task: number;
  keyFile: string;
  address?: string;
  identity?: string;
  rpc?: string;
  json: boolean;
}

/** Prints reward lines as one JSON object or as a table; private lines add their nullifier. */
function printRewards(json: boolean, head: Record<string, unknown>, title: string, lines: (RewardLine & { nullifier?: string })[]): void {
  const total = lines.reduce((a, l) => a + l.amount, 0n);
  const unclaimed = lines.filter((l) => !l.claimed).reduce((a, l) => a + l.amount, 0n);
  if (json) {
    // Public lines carry what distributor.claim(task, round, index, amount, proof) takes, so any
    // wallet can send the claim; a private claim also needs a Groth16 proof (fl-client claim makes it).
    const rows = lines.map((l) => ({
      round: l.round,
      ...(l.nullifier ? { nullifier: l.nullifier } : { index: l.index, proof: l.proof }),
      amount: l.amount.toString(),
      tokens: tokens(l.amount),
      claimed: l.claimed,
      claimable: l.claimable,
    }));
    process.stdout.write(`${JSON.stringify({ ...head, rewards: rows, total: total.toString(), unclaimed: unclaimed.toString() })}\n`);
    return;
  }
  const w = Math.max(20, ...lines.map((l) => l.amount.toString().length), total.toString().length);
  const t = Math.max(24, ...lines.map((l) => tokens(l.amount).length), tokens(total).length);
  const row = (a: string, b: string, c: string, d: string) => `${a.padStart(5)}  ${b.padStart(w)}  ${c.padStart(t)}  ${d}`;
  const text = [title, row('round', 'amount (base units)', 'amount (tokens)', 'claimed')];
  for (const l of lines) text.push(row(String(l.round), l.amount.toString(), tokens(l.amount), `${l.claimed ? 'yes' : l.claimable ? 'no' : 'no (not payable now)'}${l.nullifier ? `  nullifier ${l.nullifier}` : ''}`));
  text.push(row('total', total.toString(), tokens(total), `unclaimed ${unclaimed} (${tokens(unclaimed)} tokens)`));
  process.stdout.write(`${text.join('\n')}\n`);
}

async function rewards(o: RewardsOptions): Promise<number> {
  if (o.identity && o.address) throw new InvalidArgumentError('give --identity (a private task) or --address (a public one), not both');
  if (o.identity) {
    const identity = loadIdentity(o.identity);
    const commitment = identity.commitment.toString();
    return refusals(async () => {
      const lines = await listPrivateRewards({ api: new CoordinatorApi(o.coordinator), task: o.task, identity, rpcUrl: o.rpc });
      printRewards(o.json, { task: o.task, private: true, commitment }, `rewards of identity ${short(commitment)} in private task ${o.task} (paid to per-round nullifiers)`, lines);
      return EXIT.ok;
    });
  }
  const account = o.address ?? existingWallet(o.keyFile).address.toLowerCase();
  return refusals(async () => {
    const lines = await listRewards({ api: new CoordinatorApi(o.coordinator), task: o.task, account, rpcUrl: o.rpc });
    printRewards(o.json, { task: o.task, account }, `rewards of ${account} in task ${o.task}`, lines);
    return EXIT.ok;
  });
}

interface ClaimOptions {
  coordinator: string;
  task: number;
  keyFile: string;
  rpc?: string;
  round: number[];
  json: boolean;
  private?: boolean;
  identity?: string;
  to?: string;
  freshKeyOut?: string;
}

async function claim(o: ClaimOptions): Promise<number> {
  if (o.private || o.identity) return claimPrivate(o);
  if (o.to || o.freshKeyOut) throw new InvalidArgumentError('--to and --fresh-key-out are for private claims (--private --identity FILE); a public claim pays the key\'s own account');
  const wallet = existingWallet(o.keyFile);
  const account = wallet.address.toLowerCase();
  return refusals(async () => {
    const onClaimed = (c: ClaimResult) =>
      out(o.json, { event: 'claimed', task: o.task, round: c.round, amount: c.amount.toString(), txHash: c.txHash }, `round ${c.round}: claimed ${c.amount} (${tokens(c.amount)} tokens) in tx ${c.txHash}`);
    const done = await claimRewards({ api: new CoordinatorApi(o.coordinator), task: o.task, signer: wallet, rounds: o.round.length ? o.round : undefined, rpcUrl: o.rpc, onClaimed });
    const total = done.reduce((a, c) => a + c.amount, 0n);
    out(
      o.json,
      { event: 'done', task: o.task, account, claims: done.length, total: total.toString() },
      done.length ? `claimed ${done.length} round(s) of task ${o.task}: ${total} (${tokens(total)} tokens) to ${account}` : `nothing to claim for ${account} in task ${o.task}`,
    );
    return EXIT.ok;
  });
}

/**
 * A private claim: the identity proves each round's nullifier, the key's account only sends the
 * transactions. Without --to the payout goes to a fresh random address whose key is shown once
 * (or written to --fresh-key-out), made only when there is something to claim.
 */
async function claimPrivate(o: ClaimOptions): Promise<number> {
  if (!o.identity) throw new InvalidArgumentError('--private needs --identity FILE (the member identity whose rewards to claim)');
  if (o.to && o.freshKeyOut) throw new InvalidArgumentError('give --to ADDRESS or --fresh-key-out FILE, not both');
  if (o.freshKeyOut && existsSync(o.freshKeyOut)) throw new InvalidArgumentError(`${o.freshKeyOut} already exists: refusing to overwrite a key`);
  const identity = loadIdentity(o.identity);
  const sender = existingWallet(o.keyFile);
  const from = sender.address.toLowerCase();
  if (o.to === from) console.error(`fl-client: warning: the recipient is the sending account ${from}: the payout is linked to the sender`);
  const fresh = (): string => {
    const w = Wallet.createRandom();
    const address = w.address.toLowerCase();
    if (o.freshKeyOut) {
      writeFileSync(o.freshKeyOut, `${w.privateKey}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(o.freshKeyOut, 0o600);
      out(o.json, { event: 'recipient', fresh: true, address, keyFile: o.freshKeyOut }, `paying a fresh address ${address}; its private key is in ${o.freshKeyOut} (mode 0600): keep it, it holds the tokens`);
    } else {
      out(o.json, { event: 'recipient', fresh: true, address, privateKey: w.privateKey }, `paying a fresh address ${address}\nits private key, shown once (keep it, it holds the tokens): ${w.privateKey}`);
    }
    return address;
  };
  return refusals(async () => {
    let recipient = o.to;
    const onClaimed = (c: PrivateClaimResult) =>
      out(
        o.json,
        { event: 'claimed', task: o.task, round: c.round, nullifier: c.nullifier, recipient: c.recipient, amount: c.amount.toString(), txHash: c.txHash },
        `round ${c.round}: claimed ${c.amount} (${tokens(c.amount)} tokens) for nullifier ${short(c.nullifier)} to ${c.recipient} in tx ${c.txHash}`,
      );
    const done = await claimPrivateRewards({
      api: new CoordinatorApi(o.coordinator),
      task: o.task,
      identity,
      recipient: o.to ?? (() => (recipient = fresh())),
      signer: sender,
      rounds: o.round.length ? o.round : undefined,
      rpcUrl: o.rpc,
      onClaimed,
    });
    const total = done.reduce((a, c) => a + c.amount, 0n);
    out(
      o.json,
      { event: 'done', task: o.task, private: true, sender: from, recipient: recipient ?? null, claims: done.length, total: total.toString() },
      done.length ? `claimed ${done.length} round(s) of private task ${o.task}: ${total} (${tokens(total)} tokens) to ${recipient} (sent by ${from})` : `nothing to claim for this identity in private task ${o.task}`,
    );
    return EXIT.ok;
  });
}

const SHOW_EXIT_HELP = '\nExit codes: 0 shown; 1 usage error or the coordinator unreachable; 2 the coordinator refused (e.g. no such task or round).';
const IDENTITY_EXIT_HELP = '\nExit codes: 0 done; 1 usage error, an existing file (never overwritten) or an unreadable identity.';

const REWARDS_HELP = `
Every committed round's manifest is downloaded and re-hashed, its rewards tree rebuilt, and its root
checked against the round and against the distributor on chain; the claimed flags are read on chain.
The chain is the one the coordinator publishes at GET /v1/chain (--rpc overrides its RPC URL).
Amounts are in token base units and in whole tokens (18 decimals).
Private tasks: --identity FILE lists the member's rewards. Each round pays a nullifier derived
locally from the identity secret (nothing identifying is sent); "claimed" means the nullifier is spent.
Exit codes: 0 done, 1 usage error, 2 the coordinator or the chain refused or its data does not check out.`;

const CLAIM_HELP = `
Claims every unclaimed reward of the key's account in the task (or only the --round ones) from the
distributor, one transaction at a time, each mined before the next; every root and proof is checked
first, as for 'fl-client rewards'. The account pays the gas in ETH. Prints each transaction.

Private tasks (--private --identity FILE): each round pays a nullifier only the identity can derive;
the claim proves that in zero knowledge and binds the address paid, so nobody can redirect it. The
payout goes to --to ADDRESS, or by default to a FRESH random address, whose private key is printed
once (or written to --fresh-key-out FILE, mode 0600): keep it, it holds the tokens. The transactions
are still sent, and their gas paid, by the key's account (--key-file or FL_PRIVATE_KEY), and that
sender is visible on chain: send from an account not linked to you, or hand the proofs to a relayer,
to keep the payout unlinked. Rounds claimed in one run all pay the same address and are linkable to
each other: claim one --round at a time (each to its own fresh address) to keep them apart.

Exit codes: 0 done (also when there was nothing to claim), 1 usage error, 2 the coordinator or the
chain refused (e.g. already claimed, invalid proof, no ETH for gas) or its data does not check out.`;

const IDENTITY_HELP = `
A member identity is a random secret and its public commitment Poseidon(secret). Give the commitment
(never the secret) to the task admin, who admits it to the private task's members; then take part
with 'fl-client join --identity FILE' and claim with 'fl-client claim --private --identity FILE'.
Each upload and reward is named by a per-round nullifier that nobody can link to the commitment or
to other rounds. The file holds the secret: whoever reads it owns the identity and its rewards, and
a lost file cannot be recovered.`;

async function main(argv: string[]): Promise<number> {
  const program = new Command('fl-client')
    .description('Data-owner client of the verifiable federated-learning coordinator')
    .showHelpAfterError()
    .addHelpText('after', `
Exit codes (every command): 0 done; 1 usage or input error; 2 the coordinator or the chain refused,
or what it sent does not check out; 3 (join) no round opened in time.
--json (every command): JSON on stdout and nothing else there; join and claim print one object per
event as it happens, the others one object. Progress bars go to stderr, and only on a terminal.`);
  program
    .command('join')
    .description('register, then train on your data and upload a signed update for each of the next rounds')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .requiredOption('--task <id>', 'task id', int('task'))
    .option('--key-file <path>', 'private key file (created if missing; FL_PRIVATE_KEY overrides)', 'fl-client.key')
    .option('--identity <file>', 'member identity file, for private tasks (fl-client identity new); no wallet is used then')
    .option('--data <file.json>', 'your data: {"x": number[][], "y": number[]}')
    .option('--mnist-shard <i/K>', 'simulate owner i of K with a Dirichlet share of the MNIST digits', shard)
    .option('--alpha <a>', 'Dirichlet label-skew concentration for --mnist-shard', parseFloat, 0.5)
    .option('--split-seed <n>', 'seed of the MNIST split and partition', int('split-seed'), 1)
    .option('--train-digits <n>', "how many of MNIST's 60,000 training images the --mnist-shard owners share", int('train-digits'), DEMO_TRAIN_DIGITS)
    .option('--rounds <n>', 'rounds to take part in', int('rounds'), 1)
    .addOption(new Option('--upload <how>', 'upload path').choices(['http', 'queue']).default('http'))
    .option('--redis-url <url>', 'Redis for --upload queue', process.env.REDIS_URL)
    .addOption(
      new Option('--redis-cluster-nodes <host:port,...>', 'a Redis Cluster for --upload queue instead of --redis-url (the coordinator\'s REDIS_CLUSTER_NODES; credentials: REDIS_USERNAME, REDIS_PASSWORD)')
        .env('REDIS_CLUSTER_NODES')
        .argParser(clusterNodes),
    )
    .option('--redis-prefix <p>', 'coordinator key prefix for --upload queue', process.env.REDIS_PREFIX ?? 'fl')
    .option('--wait-seconds <n>', 'how long to wait for each round to open', int('wait-seconds'), 600)
    .option('--slowdown <x>', 'simulate a device x times slower: after training, wait (x - 1) times the training time before uploading', slowdown, 1)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['node', 'wasm', 'cpu']))
    .option('--json', 'one JSON object per line on stdout, no progress bars', false)
    .addHelpText('after', '\nExit codes: 0 every round done; 1 usage or input error; 2 the coordinator refused or rejected the update; 3 no round opened within --wait-seconds.')
    .action(async (o: JoinOptions) => {
      process.exitCode = await join(o);
    });
  program
    .command('task <id>')
    .description('show a task')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .option('--json', 'one line of JSON (default: the same JSON, indented)', false)
    .addHelpText('after', SHOW_EXIT_HELP)
    .action(async (id: string, o: { coordinator: string; json: boolean }) => {
      process.stdout.write(`${JSON.stringify(await new CoordinatorApi(o.coordinator).getTask(int('id')(id)), null, o.json ? undefined : 2)}\n`);
    });
  program
    .command('round <task> [round]')
    .description('show a round (default: the newest)')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .option('--json', 'one line of JSON (default: the same JSON, indented)', false)
    .addHelpText('after', SHOW_EXIT_HELP)
    .action(async (task: string, round: string | undefined, o: { coordinator: string; json: boolean }) => {
      const api = new CoordinatorApi(o.coordinator);
      const r = round ? await api.getRound(int('task')(task), int('round')(round)) : await api.currentRound(int('task')(task));
      process.stdout.write(`${JSON.stringify(r, null, o.json ? undefined : 2)}\n`);
    });
  program
    .command('rewards')
    .description("list the rewards of an account in a task's committed rounds, verified against the chain")
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .requiredOption('--task <id>', 'task id', int('task'))
    .option('--key-file <path>', 'private key file whose account to list (FL_PRIVATE_KEY overrides; never created)', 'fl-client.key')
    .option('--address <0x..>', 'list this account instead of the key\'s', address)
    .option('--identity <file>', 'list the rewards of this member identity in a private task')
    .option('--rpc <url>', "JSON-RPC URL to use instead of the coordinator's", httpUrl)
    .option('--json', 'print one JSON object instead of the table', false)
    .addHelpText('after', REWARDS_HELP)
    .action(async (o: RewardsOptions) => {
      process.exitCode = await rewards(o);
    });
  program
    .command('claim')
    .description('claim your unclaimed rewards of a task from the reward distributor')
    .requiredOption('--coordinator <url>', 'coordinator base URL', process.env.FL_COORDINATOR)
    .requiredOption('--task <id>', 'task id', int('task'))
    .option('--key-file <path>', 'private key file of the claiming account (FL_PRIVATE_KEY overrides; never created)', 'fl-client.key')
    .option('--rpc <url>', "JSON-RPC URL to use instead of the coordinator's", httpUrl)
    .option('--round <n>', 'claim only this round (repeatable)', rounds, [] as number[])
    .option('--private', 'claim the rewards of a member identity in a private task (needs --identity)', false)
    .option('--identity <file>', 'member identity file whose private rewards to claim')
    .option('--to <0x..>', 'private claims: pay this address (default: a fresh random one)', address)
    .option('--fresh-key-out <file>', "private claims: write the fresh recipient's private key here (mode 0600) instead of printing it")
    .option('--json', 'one JSON object per line on stdout', false)
    .addHelpText('after', CLAIM_HELP)
    .action(async (o: ClaimOptions) => {
      process.exitCode = await claim(o);
    });
  const identity = program.command('identity').description('make or show a member identity for private tasks').addHelpText('after', IDENTITY_HELP);
  identity
    .command('new')
    .description('create a new random member identity file (mode 0600; never overwrites) and print its commitment')
    .requiredOption('--out <file>', 'where to write the identity')
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', IDENTITY_HELP + IDENTITY_EXIT_HELP)
    .action((o: { out: string; json: boolean }) => {
      const id = createIdentityFile(o.out);
      const commitment = id.commitment.toString();
      out(o.json, { event: 'identity', file: o.out, commitment, created: true }, `new identity in ${o.out} (keep it secret and backed up)\ncommitment (give this to the task admin): ${commitment}`);
    });
  identity
    .command('show')
    .description("print an identity file's commitment (never its secret)")
    .requiredOption('--identity <file>', 'identity file')
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', IDENTITY_EXIT_HELP)
    .action((o: { identity: string; json: boolean }) => {
      const id = loadIdentity(o.identity);
      const commitment = id.commitment.toString();
      out(o.json, { event: 'identity', file: o.identity, commitment }, `commitment: ${commitment}`);
    });
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CoordinatorError) {
      console.error(`fl-client: coordinator said ${e.code}: ${e.message}`);
      return EXIT.refused;
    }
    if (e instanceof FederatedClientError) {
      console.error(`fl-client: ${e.code}: ${e.message}`);
      return REFUSED_CLIENT_CODES.has(e.code) ? EXIT.refused : EXIT.usage;
    }
    if (e instanceof SecureRoundError) {
      console.error(`fl-client: secure round: ${e.code}: ${e.message}`);
      return EXIT.refused;
    }
    if (e instanceof IdentityFileError) {
      console.error(`fl-client: ${e.message}`);
      return EXIT.usage;
    }
    console.error(`fl-client: ${e instanceof Error ? e.message : e}`);
    return EXIT.usage;
  }
}

/** Client-side refusals that are the coordinator's doing (its members list) or the round's, not a usage error. */
const REFUSED_CLIENT_CODES = new Set(['NO_MEMBERS_ROOT', 'MEMBERS_MISMATCH', 'NOT_A_MEMBER']);

const code = await main(process.argv);
// snarkjs keeps its curve's worker threads alive after proving: stop them before leaving.
await terminateZk().catch(() => {});
process.exit(code);
