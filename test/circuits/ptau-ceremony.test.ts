import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildCircuits } from '../../circuits/build.ts';
import { contribute, finalizeCeremony, initCeremony, verifyCeremony } from '../../circuits/ceremony/ceremony.ts';
import { checkPhase1For, contributePhase1, finalizePhase1, finalPtauPath, initPhase1, loadPtauTranscript, ptauFilePath, ptauTranscriptPath, verifyPhase1 } from '../../circuits/ceremony/phase1.ts';
import { CeremonyError } from '../../circuits/ceremony/transcript.ts';
import { terminateZk } from '../../protocol/zk/proofs.ts';

// Real snarkjs phase-1 contributions at power 9 (512 powers: the claim circuit's 262 constraints
// fit), then a real phase-2 ceremony of the claim circuit on the phase-1 output: both phases of a
// setup nobody has to trust, end to end, in seconds. The repository's circuits need power 14, where
// the same code takes minutes (docs/private-tasks.md).
const ROOT = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'fl-ptau-test-'));
const dir = join(work, 'ptau');
const copy = (name: string): string => {
  const d = join(work, name);
  cpSync(dir, d, { recursive: true });
  return d;
};
const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/fl-ceremony.js', 'ptau', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
const BEACON = `0x${'7c'.repeat(32)}`;

describe('phase-1 ceremony (fl-ceremony ptau)', () => {
  before(async () => {
    await buildCircuits({ quiet: true });
    await initPhase1({ dir, power: 9 });
    await contributePhase1({ dir, name: 'alice' });
    // The second contributor runs the command, as a person would, in a process of its own.
    const r = cli('contribute', '--dir', dir, '--name', 'bob', '--json');
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    rmSync(work, { recursive: true, force: true });
    await terminateZk();
  });

  it('verifies from the empty accumulator, listing each contributor with the response hash the file holds', async () => {
    const r = await verifyPhase1({ dir });
    assert.equal(r.ok, true, JSON.stringify(r.failure));
    assert.deepEqual(r.contributors.map((c) => c.name), ['alice', 'bob']);
    assert.notEqual(r.contributors[0]!.hash, r.contributors[1]!.hash);
    assert.ok(r.checked.includes('initial file rebuilt'));
  });

  it('an altered contribution file fails verify, naming the contribution; the CLI exits 1', async () => {
    const d = copy('altered');
    const f = ptauFilePath(d, loadPtauTranscript(d).contributions[0]!.file);
    const bytes = readFileSync(f);
    bytes[bytes.length - 200]! ^= 1;
    writeFileSync(f, bytes);
    const r = await verifyPhase1({ dir: d });
    assert.equal(r.ok, false);
    assert.equal(r.failure!.at, 'contribution 1 (alice)');
    assert.match(r.failure!.reason, /altered/);
    const c = cli('verify', '--dir', d);
    assert.equal(c.status, 1, c.stdout + c.stderr);
    assert.match(c.stdout, /^ptau: FAIL at contribution 1 \(alice\): /m);
  });

  it('a transcript that records another hash or drops a contribution is caught against the files', async () => {
    const d = copy('lying');
    const t = loadPtauTranscript(d);
    t.contributions[1]!.hash = t.contributions[0]!.hash;
    writeFileSync(ptauTranscriptPath(d), JSON.stringify(t));
    const r = await verifyPhase1({ dir: d });
    assert.equal(r.failure?.at, 'contribution 2 (bob)');
    assert.match(r.failure!.reason, /not the transcript's contribution 2/);
    const d2 = copy('dropped');
    const t2 = loadPtauTranscript(d2);
    t2.contributions = [{ ...t2.contributions[1]!, index: 1, prev: t2.init }];
    writeFileSync(ptauTranscriptPath(d2), JSON.stringify(t2));
    const r2 = await verifyPhase1({ dir: d2 });
    assert.equal(r2.ok, false);
    assert.match(r2.failure!.reason, /holds 2 contributions, the transcript 1/);
  });

  it('finalize applies the beacon and prepares final.ptau; a phase-2 ceremony of the claim circuit runs on it and verifies', async () => {
    await assert.rejects(finalizePhase1({ dir: copy('bad-beacon'), beacon: '0x12', source: 'x' }), (e: unknown) => e instanceof CeremonyError && e.code === 'BAD_BEACON');
    const t = await finalizePhase1({ dir, beacon: BEACON, source: 'test beacon' });
    assert.ok(t.final);
    const r = await verifyPhase1({ dir });
    assert.equal(r.ok, true, JSON.stringify(r.failure));
    assert.ok(r.checked.some((l) => /^final\.ptau [0-9a-f]{64}: verified/.test(l)));
    await assert.rejects(contributePhase1({ dir, name: 'late' }), (e: unknown) => e instanceof CeremonyError && e.code === 'FINALIZED');

    const ptau = finalPtauPath(dir);
    const p2 = join(work, 'phase2');
    const p2t = await initCeremony({ dir: p2, ptau, circuits: ['claim'] });
    assert.equal(p2t.ptau.sha256, t.final!.sha256, 'the phase-2 transcript records the phase-1 output');
    await contribute({ dir: p2, ptau, name: 'carol' });
    await finalizeCeremony({ dir: p2, ptau, beacon: `0x${'3d'.repeat(32)}`, source: 'test beacon' });
    const v = await verifyCeremony({ dir: p2, ptau });
    assert.equal(v.ok, true, JSON.stringify(v.failure));
    // What fl-audit --ptau-ceremony checks: phase 1 holds and is the one phase 2 started from.
    const linked = await checkPhase1For(dir, p2t.ptau.sha256);
    assert.ok(linked.ok, linked.detail);
    assert.match(linked.detail, /2 contributions \(alice, bob\)/);
    const other = await checkPhase1For(dir, 'ab'.repeat(32));
    assert.equal(other.ok, false);
    assert.match(other.detail, /not from this phase-1 ceremony's final\.ptau/);
  });
});
