import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditTask, CHECKS, coordinatorSource, directorySource, formatFinding, type AuditOptions, type AuditReport, type ContentSource } from '../../client/audit/index.ts';
import { contentHash } from '../../protocol/index.ts';
import { buildRealHistory, craftTask, type RealHistory } from '../helpers/audit-history.ts';

// The auditor against a real history: a test coordinator (real Redis, BullMQ worker, scheduler)
// aggregates three FedAdam rounds of signed random deltas, the test commits them on a real anvil
// with the registry's commitRound and two contributors claim. Then the content is tampered with,
// one way at a time, and the audit must name the failing round and check.
describe('fl-audit', () => {
  let h: RealHistory;
  const temp: string[] = [];
  const servers: Server[] = [];
  before(async () => {
    h = await buildRealHistory();
  });
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const d of temp) rmSync(d, { recursive: true, force: true });
    await h?.env.cleanup();
    await h?.chain.stop();
  });

  const options = (source: ContentSource, over: Partial<AuditOptions> = {}): AuditOptions => ({
    rpcUrl: h.chain.anvil.rpcUrl,
    registry: h.chain.d.addresses.registry,
    task: h.task.id,
    source,
    reaggregate: false,
    fromBlock: h.fromBlock,
    ...over,
  });
  /** "round:check" of every finding. */
  const findings = (r: AuditReport) => r.findings.map((f) => `${f.round}:${f.check}`);
  const explain = (r: AuditReport) => r.findings.map(formatFinding).join('\n') || '(no findings)';
  /** A copy of the coordinator's DATA_DIR to tamper with. */
  const copyData = (from = h.env.config.dataDir) => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-audit-'));
    temp.push(dir);
    cpSync(from, dir, { recursive: true });
    return dir;
  };
  const pathOf = (dir: string, kind: string, hash: string) => join(dir, kind, hash.slice(2, 4), hash);
  const flipByte = (file: string, at: number) => {
    const b = readFileSync(file);
    const i = at < 0 ? b.length + at : at;
    b[i] = (b[i] as number) ^ 0x01;
    writeFileSync(file, b);
  };

  test('an honest history passes: from the directory and the coordinator, with and without re-aggregation', async () => {
    const plain = await auditTask(options(directorySource(h.env.config.dataDir)));
    assert.equal(plain.pass, true, explain(plain));
    assert.deepEqual(plain.rounds.map((r) => r.round), [1, 2, 3]);
    assert.equal(plain.genesisHash, h.task.genesisHash);
    for (const [i, row] of plain.rounds.entries()) {
      assert.equal(row.checkpointHash, h.rounds[i]!.checkpointHash);
      assert.equal(row.reward, '1000');
      assert.deepEqual(row.columns, { checkpoint: 'ok', parent: 'ok', manifest: 'ok', rewards: 'ok', claims: 'ok', reaggregated: '-' });
    }
    assert.equal(plain.rounds[1]!.accepted, 3, 'round 2 has three accepted entries and one rejected');
    assert.deepEqual(
      plain.rounds.flatMap((r) => r.claims.map((c) => ({ round: r.round, account: c.account, amount: BigInt(c.amount) }))),
      h.claims,
    );
    assert.ok(plain.checks.every((c) => c.ok && !c.skipped));

    const deep = await auditTask(options(directorySource(h.env.config.dataDir), { reaggregate: true }));
    assert.equal(deep.pass, true, explain(deep));
    const reagg = deep.checks.filter((c) => c.check === CHECKS.reaggregateCheckpoint);
    assert.deepEqual(reagg.map((c) => [c.round, c.ok]), [[1, true], [2, true], [3, true]]);

    const remote = await auditTask(options(coordinatorSource(h.env.c.url), { reaggregate: true }));
    assert.equal(remote.pass, true, explain(remote));
    assert.match(remote.source, /^coordinator http/);
  });

  test('a flipped checkpoint byte fails checkpoint.bytes of that round (and blocks re-aggregating the next)', async () => {
    const dir = copyData();
    flipByte(pathOf(dir, 'checkpoints', h.rounds[1]!.checkpointHash!), -3);
    const r = await auditTask(options(directorySource(dir)));
    assert.equal(r.pass, false);
    assert.deepEqual(findings(r), [`2:${CHECKS.checkpointBytes}`], explain(r));
    const f = r.findings[0]!;
    assert.match(f.detail, new RegExp(`^checkpoint hash mismatch: bytes hash to 0x[0-9a-f]{64}, chain says ${h.rounds[1]!.checkpointHash}$`));
    assert.match(formatFinding(f), /^round 2 \[checkpoint\.bytes\]: checkpoint hash mismatch/);
    assert.equal(r.rounds[1]!.columns.checkpoint, 'FAIL');

    const deep = await auditTask(options(directorySource(dir), { reaggregate: true }));
    assert.deepEqual(findings(deep), [`2:${CHECKS.checkpointBytes}`], explain(deep));
    const blocked = deep.checks.find((c) => c.round === 3 && c.check === CHECKS.reaggregateCheckpoint);
    assert.equal(blocked?.skipped, true, 'round 3 cannot be re-aggregated on a corrupt base');
  });

  test('a changed manifest fails manifest.bytes, whether or not it is re-hashed under a new name', async () => {
    const m = h.rounds[0]!.manifestHash!;
    const dir = copyData();
    const file = pathOf(dir, 'manifests', m);
    const text = readFileSync(file, 'utf8');
    const entitled = h.manifests[0]!.entries[0]!.reward;
    const changed = text.replace(`"reward":"${entitled}"`, `"reward":"${BigInt(entitled) + 1n}"`);
    assert.notEqual(changed, text);
    writeFileSync(file, changed);
    const r = await auditTask(options(directorySource(dir)));
    assert.deepEqual(findings(r), [`1:${CHECKS.manifestBytes}`], explain(r));
    assert.match(r.findings[0]!.detail, new RegExp(`^manifest hash mismatch: bytes hash to 0x[0-9a-f]{64}, chain says ${m}$`));
    // The round's claim cannot be checked against an unverified manifest.
    assert.equal(r.checks.find((c) => c.round === 1 && c.check === CHECKS.claimsEntitlement)?.skipped, true);

    // Stored under its own new hash instead, the chain's hash names nothing.
    const rehashed = await contentHash(new TextEncoder().encode(changed));
    mkdirSync(join(dir, 'manifests', rehashed.slice(2, 4)), { recursive: true });
    renameSync(file, pathOf(dir, 'manifests', rehashed));
    const r2 = await auditTask(options(directorySource(dir)));
    assert.deepEqual(findings(r2), [`1:${CHECKS.manifestBytes}`], explain(r2));
    assert.match(r2.findings[0]!.detail, new RegExp(`^manifest ${m} not available from directory .*: no file`));
  });

  test('a flipped byte in an archived update is caught only by re-aggregation', async () => {
    const dir = copyData();
    const victim = h.manifests[2]!.entries.find((e) => e.status === 'accepted')!;
    flipByte(pathOf(dir, 'updates', victim.updateHash!), 100);
    const plain = await auditTask(options(directorySource(dir)));
    assert.equal(plain.pass, true, explain(plain));
    const deep = await auditTask(options(directorySource(dir), { reaggregate: true }));
    assert.deepEqual(findings(deep), [`3:${CHECKS.reaggregateUpdates}`], explain(deep));
    assert.match(deep.findings[0]!.detail, new RegExp(`update hash mismatch: bytes hash to 0x[0-9a-f]{64}, manifest says ${victim.updateHash}`));
    assert.equal(deep.rounds[2]!.columns.reaggregated, 'FAIL');
  });

  test('a coordinator serving modified bytes over HTTP is caught by re-hashing', async () => {
    const dir = copyData();
    flipByte(pathOf(dir, 'checkpoints', h.rounds[2]!.checkpointHash!), -1);
    // A lying coordinator: serves whatever sits in its directory, unchecked.
    const server = createServer((req, res) => {
      const m = /^\/v1\/(checkpoints|manifests|updates)\/(0x[0-9a-f]{64})$/.exec(req.url ?? '');
      if (req.url === '/v1/health') return void res.end('{"status":"ok"}');
      try {
        if (!m) throw new Error('no route');
        res.end(readFileSync(pathOf(dir, m[1]!, m[2]!)));
      } catch {
        res.statusCode = 404;
        res.end('{"error":{"code":"NOT_FOUND","message":"not here"}}');
      }
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await auditTask(options(coordinatorSource(url), { reaggregate: true }));
    assert.deepEqual(findings(r), [`3:${CHECKS.checkpointBytes}`], explain(r));
    assert.match(r.findings[0]!.detail, /^checkpoint hash mismatch/);
  });

  test('crafted histories: a bad payout split, a checkpoint of another parent, a checkpoint that is not the aggregate', async () => {
    const dir = copyData();
    await craftTask(h.chain, dir, 101, 'bad-split');
    await craftTask(h.chain, dir, 102, 'header-parent');
    await craftTask(h.chain, dir, 103, 'bad-aggregate');
    const audit = (task: number, reaggregate: boolean) => auditTask(options(directorySource(dir), { task, reaggregate }));

    // The manifest hashes to what the chain committed and its root and sum are consistent, but its
    // amounts are not the pro-rata split: only verifyManifest can tell.
    const split = await audit(101, true);
    assert.deepEqual(findings(split), [`1:${CHECKS.manifestVerify}`], explain(split));
    assert.match(split.findings[0]!.detail, /REWARD_MISMATCH: entry 0: reward \d+, the pro-rata split gives \d+/);

    // The chain's parent links are consistent, but the stored checkpoint says it was built on another parent.
    const parent = await audit(102, false);
    assert.deepEqual(findings(parent), [`1:${CHECKS.parentHeader}`], explain(parent));
    assert.match(parent.findings[0]!.detail, /^checkpoint header says parent 0x[0-9a-f]{64}, chain says 0x[0-9a-f]{64}$/);
    const parentDeep = await audit(102, true);
    assert.deepEqual(findings(parentDeep), [`1:${CHECKS.parentHeader}`, `1:${CHECKS.reaggregateCheckpoint}`], explain(parentDeep));
    assert.match(parentDeep.findings[1]!.detail, /the weights agree, the header or server state differs/);

    // Everything hashes and links correctly, but the weights are not what the updates aggregate to.
    const honestLooking = await audit(103, false);
    assert.equal(honestLooking.pass, true, explain(honestLooking));
    const agg = await audit(103, true);
    assert.deepEqual(findings(agg), [`1:${CHECKS.reaggregateCheckpoint}`], explain(agg));
    assert.match(agg.findings[0]!.detail, /^re-aggregated checkpoint hashes to 0x[0-9a-f]{64}, chain says 0x[0-9a-f]{64}; first differing weight 5:/);
  });

  test('reading events from after the task was created is a finding, not a pass', async () => {
    const r = await auditTask(options(directorySource(h.env.config.dataDir), { fromBlock: h.commitBlocks[1]! }));
    assert.equal(r.pass, false);
    assert.deepEqual(r.rounds.map((x) => x.round), [2, 3]);
    // Round 1's commit is hidden too, so its (real) claim has no round to belong to.
    assert.deepEqual(findings(r), [`null:${CHECKS.taskCreated}`, `1:${CHECKS.claimsEntitlement}`], explain(r));
    assert.equal(r.checks.find((c) => c.round === 2 && c.check === CHECKS.parentChain)?.skipped, true);
  });

  test('the fl-audit CLI: exit codes, table, last line, JSON report', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ['bin/fl-audit.js', ...args], { cwd: process.cwd(), timeout: 30_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 99) : 0, stdout, stderr });
        });
      });
    const common = ['--rpc', h.chain.anvil.rpcUrl, '--registry', h.chain.d.addresses.registry, '--task', String(h.task.id), '--from-block', String(h.fromBlock)];
    const reportFile = join(copyData(), 'report.json');
    const [ok, bad, usage] = await Promise.all([
      run([...common, '--store', h.env.config.dataDir, '--reaggregate', '--report', reportFile]),
      (async () => {
        const dir = copyData();
        flipByte(pathOf(dir, 'checkpoints', h.rounds[0]!.checkpointHash!), -2);
        return run([...common, '--json', '--store', dir]);
      })(),
      run([...common]),
    ]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const lines = ok.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), `audit: task=${h.task.id} rounds=3 pass findings=0`);
    assert.match(ok.stdout, /round\s+checkpoint\s+parent\s+manifest\s+rewards\s+claims\s+reaggregated/);
    const saved = JSON.parse(readFileSync(reportFile, 'utf8')) as AuditReport;
    assert.equal(saved.pass, true);
    assert.equal(saved.rounds.length, 3);

    assert.equal(bad.code, 1, bad.stderr + bad.stdout);
    const badLines = bad.stdout.trimEnd().split('\n');
    assert.equal(badLines.at(-1), `audit: task=${h.task.id} rounds=3 FAIL findings=1`);
    const json = JSON.parse(badLines[0]!) as AuditReport;
    assert.deepEqual(findings(json), [`1:${CHECKS.checkpointBytes}`]);

    assert.equal(usage.code, 2, 'no content source is a usage error');
    assert.match(usage.stderr, /exactly one of --store DIR or --coordinator URL/);
  });
});
