import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Wallet } from 'ethers';
import { auditTask, bucketSource, CHECKS, formatFinding } from '../../client/audit/index.ts';
import { FederatedClient } from '../../client/federated-client.ts';
import { loadIris } from '../../client/data/iris.ts';
import { iidPartition } from '../../client/data/partition.ts';
import { subset } from '../../client/data/dataset.ts';
import { initBackend } from '../../client/tf/backend.ts';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { parseEnv } from '../../coordinator/config.ts';
import { startCoordinator } from '../../coordinator/server.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import type { Round, Task } from '../../protocol/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { isolatedConfig, silentLog, startTestCoordinator, waitFor } from '../helpers/env.ts';
import { startS3Server, useS3Credentials, type S3TestServer } from '../helpers/s3-server.ts';

/** Runs fl-audit as a child process, as an auditor would; resolves with its exit code and output. */
function flAudit(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/fl-audit.js', ...args], { cwd: process.cwd(), timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 99) : 0, stdout, stderr });
    });
  });
}

// A coordinator with STORE=s3 keeps its checkpoints, archived updates and manifests in a bucket of a
// real S3 protocol server (s3rver): two tfjs data owners train two FedAvg rounds on iris, the chain
// writer commits them on anvil, and fl-audit --reaggregate passes reading nothing but the bucket and
// the chain. Credentials reach the coordinator, as in service, through the SDK's default chain.
describe('the S3 content store end to end', () => {
  let s3: S3TestServer;
  let restoreEnv: () => void;
  let chain: Chain;
  let chainClient: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let bucket: string;
  let task: Task;
  const rounds: Round[] = [];
  const clients: FederatedClient[] = [];

  before(async () => {
    await initBackend();
    s3 = await startS3Server();
    restoreEnv = useS3Credentials(s3);
    bucket = await s3.createBucket();
    chain = await startChain();
    chainClient = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    // The store's settings as an operator gives them: environment variables through parseEnv.
    const { store } = parseEnv({ STORE: 's3', S3_BUCKET: bucket, S3_PREFIX: 'fed', S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: '1' });
    env = await startTestCoordinator({ store }, { chain: chainClient, chainIntervalMs: 100 });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await env?.cleanup();
    chainClient?.close();
    await chain?.stop();
    await s3?.stop();
    restoreEnv?.();
  });

  const auditArgs = () => ['--rpc', chain.anvil.rpcUrl, '--registry', chain.d.addresses.registry, '--task', String(task.id), '--from-block', String(chain.d.blockNumber)];

  test('two rounds commit with their content in the bucket; fl-audit --reaggregate passes from the bucket alone', async () => {
    task = await createTask(env.c.ctx, { name: 'iris in a bucket', model: 'iris-mlp', training: { localEpochs: 3, batchSize: 8, learningRate: 0.1, optimizer: 'sgd' }, rewards: { perRound: '1000', budget: '2000' }, seed: 19 });
    const iris = loadIris();
    const parts = iidPartition(iris.n, 2, 4);
    for (const i of [0, 1]) {
      clients.push(new FederatedClient({ coordinatorUrl: env.c.url, wallet: Wallet.createRandom(), upload: i === 0 ? { mode: 'queue', redisUrl: env.config.redisUrl, prefix: env.config.prefix } : { mode: 'http' }, pollMs: 50 }));
    }
    for (const c of clients) await c.register(task.id);
    for (let r = 1; r <= 2; r++) {
      const round = await openRound(env.c.ctx, task.id, { durationSeconds: 120, minClients: 2, maxClients: 2 });
      const results = await Promise.all(clients.map((c, i) => c.contribute({ task, round, data: subset(iris, parts[i]!) })));
      for (const [i, res] of results.entries()) assert.deepEqual(await clients[i]!.waitForDecision(task.id, r, res.jobId), { status: 'accepted' });
      rounds.push(await waitFor(`round ${r} committed`, async () => {
        const s = await env.c.ctx.rounds.get(task.id, r);
        return s?.state === 'committed' ? s : null;
      }, 60_000));
    }
    // Everything content-addressed went to the bucket and nothing to DATA_DIR.
    for (const kind of ['checkpoints', 'updates', 'manifests']) assert.equal(existsSync(join(env.config.dataDir, kind)), false, `no ${kind} folder in DATA_DIR`);
    const source = bucketSource(`s3://${bucket}/fed`, { endpoint: s3.endpoint });
    for (const r of rounds) {
      assert.equal((await source.fetch('checkpoints', r.checkpointHash!)).found, true);
      assert.equal((await source.fetch('manifests', r.manifestHash!)).found, true);
      for (const u of r.acceptedUpdates) assert.equal((await source.fetch('updates', u.updateHash)).found, true);
    }

    const run = await flAudit([...auditArgs(), '--store', `s3://${bucket}/fed`, '--s3-endpoint', s3.endpoint, '--reaggregate'], s3.credentialsEnv);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, new RegExp(`content from bucket s3://${bucket}/fed at ${s3.endpoint}, re-aggregating`));
    assert.equal(run.stdout.trimEnd().split('\n').at(-1), `audit: task=${task.id} rounds=2 pass findings=0`);
  });

  test('a checkpoint changed in the bucket is a finding; a bucket out of reach is exit 2 and a 503 that names no endpoint', async () => {
    // Someone with write access to the bucket replaces round 2's checkpoint.
    const h = rounds[1]!.checkpointHash!;
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `fed/checkpoints/${h.slice(2, 4)}/${h}`, Body: new Uint8Array([1, 2, 3]) }));
    const r = await auditTask({ rpcUrl: chain.anvil.rpcUrl, registry: chain.d.addresses.registry, task: task.id, source: bucketSource(`s3://${bucket}/fed`, { endpoint: s3.endpoint }), reaggregate: false, fromBlock: chain.d.blockNumber });
    assert.deepEqual(r.findings.map((f) => `${f.round}:${f.check}`), [`2:${CHECKS.checkpointBytes}`], r.findings.map(formatFinding).join('\n'));
    // The coordinator reads through the same bucket and refuses the altered bytes too.
    const corrupt = await fetch(new URL(`/v1/checkpoints/${h}`, env.c.url));
    assert.equal(corrupt.status, 500);
    assert.equal(((await corrupt.json()) as { error: { code: string } }).error.code, 'STORE_CORRUPT');

    const missing = await flAudit([...auditArgs(), '--store', 's3://fl-no-such-bucket/fed', '--s3-endpoint', s3.endpoint], s3.credentialsEnv);
    assert.equal(missing.code, 2, missing.stderr + missing.stdout);
    assert.match(missing.stderr, /fl-audit: content source: bucket s3:\/\/fl-no-such-bucket\/fed at http:\/\/127\.0\.0\.1:\d+ cannot be used: no such bucket/);

    const endpoint = s3.endpoint;
    await s3.stop();
    const down = await fetch(new URL(`/v1/checkpoints/${rounds[0]!.checkpointHash}`, env.c.url));
    assert.equal(down.status, 503);
    const body = await down.text();
    assert.match(body, /"code":"STORE_UNAVAILABLE"/);
    assert.ok(!body.includes(endpoint) && !body.includes(bucket), `the answer names neither endpoint nor bucket: ${body}`);
    const offline = await flAudit([...auditArgs(), '--store', `s3://${bucket}/fed`, '--s3-endpoint', endpoint], s3.credentialsEnv);
    assert.equal(offline.code, 2, offline.stderr + offline.stdout);
    assert.match(offline.stderr, /fl-audit: content source: bucket .* cannot be used: .*ECONNREFUSED/);
  });

  test('STORE=s3 with a bucket that does not exist stops the coordinator at start, naming bucket and endpoint', async () => {
    const s3b = await startS3Server();
    const iso = await isolatedConfig({ store: { kind: 's3', bucket: 'fl-never-created', prefix: 'fl', endpoint: s3b.endpoint, region: 'us-east-1', forcePathStyle: true } });
    try {
      await assert.rejects(
        startCoordinator(iso.config, { log: silentLog() }),
        (e: Error & { code?: string }) => e.code === 'STORE_UNAVAILABLE' && e.message.startsWith(`content store s3://fl-never-created/fl at ${s3b.endpoint}: the bucket cannot be used: no such bucket`),
      );
    } finally {
      await iso.cleanup();
      await s3b.stop();
    }
  });
});
