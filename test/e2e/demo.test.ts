import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// The README's main command, run as a user would (shortened: 2 rounds, 3 client processes, 9,000
// training digits instead of 24,000 to keep CI short). Real MNIST digits, real TensorFlow.js in
// separate processes, real Redis and BullMQ, a private anvil with the project's contracts, a real
// reward claim and the auditor run as its own process.
const runDemo = (...extra: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--rounds', '2', '--clients', '3', '--seed', '3', '--train-digits', '9000', ...extra], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  assert.equal(r.status, 0, `demo failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  return r;
};
// The checkpoint column of the round rows (the chain lines also print transaction hashes).
const hashes = (stdout: string) => stdout.split('\n').filter((l) => /^\s+\d+\s+\d+\/\d+\s/.test(l)).map((l) => l.trim().split(/\s+/).pop()!);
let first: string[] = [];

test('npm run demo trains MNIST with client processes and ends with the machine-readable line', () => {
  const r = runDemo();
  first = hashes(r.stdout);
  const lines = r.stdout.trim().split('\n');
  const rows = lines.filter((l) => /^\s+\d+\s+\d+\/\d+\s/.test(l));
  assert.equal(rows.length, 2, r.stdout);
  for (const row of rows) assert.match(row, /\s3\/0\s.*0x[0-9a-f]{64}$/);
  const last = lines[lines.length - 1]!;
  const m = /^demo: rounds=2 clients=3 accuracy=(\d\.\d{4}) committed=2 audit=pass$/.exec(last);
  assert.ok(m, `last line: ${last}`);
  // Two rounds of a CNN on ~3,000 digits each reach well past chance (0.10).
  assert.ok(Number(m[1]) > 0.6, `accuracy ${m[1]}`);
});

// Training, encoding and aggregation are deterministic (seeded shuffles and initial weights, keys
// derived from the seed, fixed fold order), so anyone can re-run a seed and get the same hashes.
test('the same seed reproduces the same checkpoint hashes bit for bit', () => {
  assert.equal(first.length, 2);
  assert.deepEqual(hashes(runDemo().stdout), first);
});

// The multi-host layout on one machine: two coordinator replicas and two standalone workers, each
// with its own DATA_DIR, one bucket of an S3 server, clients spread over the replicas, the audit read
// from the bucket. Which process took which upload changes nothing: the same seed, the same hashes.
test('npm run demo -- --replicas 2 --workers 2 --store s3 ends with its topology and the same checkpoints', () => {
  const r = runDemo('--replicas', '2', '--workers', '2', '--store', 's3');
  const lines = r.stdout.trim().split('\n');
  assert.match(lines.at(-1)!, /^demo: rounds=2 clients=3 accuracy=\d\.\d{4} committed=2 audit=pass replicas=2 workers=2 store=s3$/);
  assert.match(r.stdout, /^demo: 2 coordinator replica\(s\) http:\S+ http:\S+, 2 standalone worker\(s\)/m);
  assert.match(r.stdout, /content from bucket s3:\/\/fl-demo\/fl at http/);
  assert.deepEqual(hashes(r.stdout), first);
});

// The private mode of the same run: members admitted by commitment upload with Groth16 membership
// proofs (no address, no signature), every member claims with a claim proof to a fresh address,
// and the auditor re-verifies every proof against the committed participation roots.
test('npm run demo -- --private runs a private task end to end: anonymous uploads, private claims, audit', () => {
  const r = runDemo('--private');
  const lines = r.stdout.trim().split('\n');
  const rows = lines.filter((l) => /^\s+\d+\s+\d+\/\d+\s/.test(l));
  assert.equal(rows.length, 2, r.stdout);
  for (const row of rows) assert.match(row, /\s3\/0\s/, 'all three members accepted, none rejected');
  // 3 members x 2 rounds, each a separate claimPrivate to a fresh address.
  assert.equal(lines.filter((l) => /^demo: member \d claimed .* over 2 rounds to fresh address 0x[0-9a-fA-F]{40} \(relayed\)$/.test(l)).length, 3, r.stdout);
  const last = lines[lines.length - 1]!;
  assert.match(last, /^demo: rounds=2 clients=3 accuracy=\d\.\d{4} committed=2 private_claims=6 audit=pass$/, `last line: ${last}`);
});

// Secure mode of the same run: masked fixed-point uploads, the protocol's four phases in every
// round, on-chain commits, and the auditor rebuilding each checkpoint from the masked uploads.
test('npm run demo -- --secure runs secure aggregation end to end and the audit passes', () => {
  const r = runDemo('--secure');
  const lines = r.stdout.trim().split('\n');
  const rows = lines.filter((l) => /^\s+\d+\s+\d+\/\d+\s/.test(l));
  assert.equal(rows.length, 2, r.stdout);
  for (const row of rows) assert.match(row, /\s3\/0\s/, 'all three clients accepted, none rejected');
  assert.match(lines.find((l) => l.startsWith('demo: task ')) ?? '', /secure aggregation \(16-bit ring/);
  const last = lines[lines.length - 1]!;
  assert.match(last, /^demo: mode=secure rounds=2 clients=3 accuracy=\d\.\d{4} committed=2 audit=pass$/, `last line: ${last}`);
});

// Both privacy modes at once, on a SecAgg+ ring: four anonymous members, each masking against two
// neighbours only, proving membership with every advert and upload, claiming privately.
test('npm run demo -- --secure --private --secure-neighbours 2: anonymous members on a SecAgg+ ring, audit passes', () => {
  const r = runDemo('--secure', '--private', '--secure-neighbours', '2', '--clients', '4');
  const lines = r.stdout.trim().split('\n');
  const rows = lines.filter((l) => /^\s+\d+\s+\d+\/\d+\s/.test(l));
  assert.equal(rows.length, 2, r.stdout);
  for (const row of rows) assert.match(row, /\s4\/0\s/, 'all four members accepted, none rejected');
  assert.match(lines.find((l) => l.startsWith('demo: task ')) ?? '', /private .*secure aggregation .*SecAgg\+ ring of 2 neighbours/);
  const last = lines[lines.length - 1]!;
  assert.match(last, /^demo: mode=secure rounds=2 clients=4 accuracy=\d\.\d{4} committed=2 private_claims=8 audit=pass$/, `last line: ${last}`);
});

test('npm run demo -- --scoring validation-gain pays by confirmed gain and the audit re-scores every round', () => {
  const r = runDemo('--scoring', 'validation-gain');
  const lines = r.stdout.trim().split('\n');
  const shares = lines.find((l) => l.startsWith('demo: rewards by validation gain over 2 rounds: ')) ?? '';
  const percents = [...shares.matchAll(/ (\d+\.\d{2})%/g)].map((m) => Number(m[1]));
  assert.equal(percents.length, 3, shares || r.stdout);
  assert.ok(Math.abs(percents.reduce((a, b) => a + b, 0) - 100) < 0.05, `shares sum to 100 %: ${shares}`);
  assert.match(lines.find((l) => l.includes('audit: task=')) ?? '', /rounds=2 pass findings=0/);
  assert.match(lines[lines.length - 1]!, /^demo: rounds=2 clients=3 accuracy=\d\.\d{4} committed=2 audit=pass$/);
});

// FedBuff beside sync in one run: the sync rounds wait for the slow client, the async buffers (of 2)
// do not; the async task runs until it matches the sync accuracy, every buffer is committed and the
// auditor re-aggregates them in their recorded arrival order.
test('npm run demo -- --async --slow-client 3 compares async buffers with sync rounds and the audit passes', () => {
  const r = runDemo('--async', '--slow-client', '3');
  const lines = r.stdout.trim().split('\n');
  assert.match(lines.find((l) => l.startsWith('demo: async task ')) ?? '', /buffers of 2, up to 8, until accuracy \d\.\d{4}/);
  const last = lines[lines.length - 1]!;
  const m = /^demo: mode=async accuracy=(\d\.\d{4}) async_s=(\d+\.\d) sync_s=(\d+\.\d) buffers=(\d+) committed=(\d+) audit=pass$/.exec(last);
  assert.ok(m, `last line: ${last}`);
  assert.equal(m[4], m[5], 'every buffer counted is committed');
  const sync = /demo: sync 2 rounds to (\d\.\d{4})/.exec(r.stdout);
  assert.ok(sync && Number(m[1]) >= Number(sync[1]), `async ${m[1]} reached the sync accuracy ${sync?.[1]}`);
});
