import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildCircuits, DEFAULT_PTAU } from '../../circuits/build.ts';
import {
  contribute, filePath, finalizeCeremony, initCeremony, loadTranscript, makeContribution, submitContribution, transcriptPath, verifyCeremony,
} from '../../circuits/ceremony/ceremony.ts';
import { CeremonyError, latestFile } from '../../circuits/ceremony/transcript.ts';
import { terminateZk } from '../../protocol/zk/proofs.ts';

// Real snarkjs phase-2 contributions on the claim circuit (262 constraints, so each step takes a
// second or two; the membership circuit runs the same code in the e2e demo test). Nothing is mocked.
const ROOT = join(import.meta.dirname, '..', '..');
const ptau = DEFAULT_PTAU;
const work = mkdtempSync(join(tmpdir(), 'fl-ceremony-test-'));
const dir = join(work, 'ceremony');
const copy = (name: string): string => {
  const d = join(work, name);
  cpSync(dir, d, { recursive: true });
  return d;
};
const rewrite = (d: string, edit: (t: ReturnType<typeof loadTranscript>) => void): void => {
  const t = loadTranscript(d);
  edit(t);
  writeFileSync(transcriptPath(d), JSON.stringify(t));
};
const code = (e: unknown): string => (e instanceof CeremonyError ? e.code : String(e));

describe('setup ceremony (fl-ceremony)', () => {
  before(async () => {
    await buildCircuits({ quiet: true });
    await initCeremony({ dir, ptau, circuits: ['claim'] });
    await contribute({ dir, ptau, name: 'alice' });
    await contribute({ dir, ptau, name: 'bob', entropy: 'bob typed this' });
  });
  after(async () => {
    rmSync(work, { recursive: true, force: true });
    await terminateZk();
  });

  it('verifies the chain from the r1cs and ptau, listing each contributor with their hash', async () => {
    const r = await verifyCeremony({ dir, ptau });
    assert.equal(r.ok, true, JSON.stringify(r.failure));
    assert.deepEqual(r.contributors.map((c) => c.name), ['alice', 'bob']);
    const t = loadTranscript(dir);
    assert.equal(r.contributors[1]!.hashes.claim, t.contributions[1]!.circuits.claim!.hash);
    assert.notEqual(t.contributions[0]!.circuits.claim!.hash, t.contributions[1]!.circuits.claim!.hash);
    assert.ok(r.checked.some((l) => /initial key rebuilt/.test(l)));
  });

  it('a stored contribution file with one byte changed fails, naming that contribution', async () => {
    const d = copy('flipped');
    const f = filePath(d, loadTranscript(d).contributions[0]!.circuits.claim!.zkey);
    const bytes = readFileSync(f);
    bytes[bytes.length - 100]! ^= 1;
    writeFileSync(f, bytes);
    const r = await verifyCeremony({ dir: d, ptau });
    assert.equal(r.ok, false);
    assert.equal(r.failure!.code, 'FILE_MISMATCH');
    assert.equal(r.failure!.at, 'claim contribution 1 (alice)');
  });

  it('a contribution swapped for another valid one (transcript rewritten to match) fails at the next contribution, which was not made on it', async () => {
    const d = copy('swapped');
    // Mallory makes a real contribution on the initial key and rewrites record 1 to point at it.
    const t = loadTranscript(d);
    const fork = join(work, 'fork');
    rmSync(fork, { recursive: true, force: true });
    cpSync(d, fork, { recursive: true });
    rewrite(fork, (x) => {
      x.contributions = [];
    });
    const alt = await makeContribution({ dir: fork, name: 'alice' });
    cpSync(filePath(fork, alt.circuits.claim!.zkey), filePath(d, alt.circuits.claim!.zkey));
    rewrite(d, (x) => {
      x.contributions[0]!.circuits.claim = alt.circuits.claim!;
      x.contributions[1]!.circuits.claim!.prev = alt.circuits.claim!.zkey;
    });
    assert.notEqual(alt.circuits.claim!.hash, t.contributions[0]!.circuits.claim!.hash);
    const r = await verifyCeremony({ dir: d, ptau });
    assert.equal(r.ok, false);
    assert.equal(r.failure!.at, 'claim contribution 2 (bob)');
    assert.match(r.failure!.reason, /contribution 1 .*not the ceremony's contribution 1/);
  });

  it('a recorded contribution hash that is not the one in the key fails, naming it', async () => {
    const d = copy('rehashed');
    rewrite(d, (x) => {
      x.contributions[1]!.circuits.claim!.hash = 'ab'.repeat(64);
    });
    const r = await verifyCeremony({ dir: d, ptau });
    assert.equal(r.ok, false);
    assert.equal(r.failure!.at, 'claim contribution 2 (bob)');
  });

  it('contributions go in turn: one made on a file that is no longer the latest is refused, even if it claims the latest as its parent', async () => {
    const d = copy('stale');
    const first = await makeContribution({ dir: d, name: 'carol' });
    const second = await makeContribution({ dir: d, name: 'dave' });
    assert.equal(first.circuits.claim!.prev, second.circuits.claim!.prev, 'both made on the same latest key');
    await submitContribution(d, ptau, first);
    await assert.rejects(submitContribution(d, ptau, second), (e) => code(e) === 'STALE_CONTRIBUTION' && /latest key/.test((e as Error).message));
    // Lying about the parent does not help: snarkjs finds in the file that carol's contribution is missing.
    const liar = { ...second, circuits: { claim: { ...second.circuits.claim!, prev: latestFile(loadTranscript(d), 'claim') } } };
    await assert.rejects(submitContribution(d, ptau, liar), (e) => code(e) === 'STALE_CONTRIBUTION' && /not made on the latest key/.test((e as Error).message));
    assert.deepEqual(loadTranscript(d).contributions.map((c) => c.name), ['alice', 'bob', 'carol']);
  });

  it('a candidate whose claimed hash or name is not in its file is refused', async () => {
    const d = copy('claims');
    const c = await makeContribution({ dir: d, name: 'erin' });
    await assert.rejects(submitContribution(d, ptau, { ...c, name: 'frank' }), (e) => code(e) === 'BAD_CONTRIBUTION' && /names its contributor 'erin'/.test((e as Error).message));
    await assert.rejects(submitContribution(d, ptau, { ...c, circuits: { claim: { ...c.circuits.claim!, hash: '00'.repeat(64) } } }), (e) => code(e) === 'BAD_CONTRIBUTION');
    await assert.rejects(submitContribution(d, ptau, { ...c, circuits: {} }), (e) => code(e) === 'BAD_CONTRIBUTION');
  });

  it('finalize applies the beacon and exports keys; the whole chain verifies, and no contribution is taken after it', async () => {
    const d = copy('final');
    const beacon = `0x${'5a'.repeat(32)}`;
    await assert.rejects(finalizeCeremony({ dir: d, ptau, beacon: '0x12', source: 'x' }), (e) => code(e) === 'BAD_BEACON');
    const t = await finalizeCeremony({ dir: d, ptau, beacon, source: 'test value' });
    assert.equal(t.beacon!.value, beacon);
    assert.match(t.final!.claim!.vkeyHash, /^0x[0-9a-f]{64}$/);
    const r = await verifyCeremony({ dir: d, ptau });
    assert.equal(r.ok, true, JSON.stringify(r.failure));
    assert.ok(r.checked.some((l) => /beacon: verified/.test(l)));
    await assert.rejects(makeContribution({ dir: d, name: 'late' }), (e) => code(e) === 'FINALIZED');
    // A beacon value changed in the transcript no longer matches the key.
    const b = join(work, 'final-beacon');
    cpSync(d, b, { recursive: true });
    rewrite(b, (x) => {
      x.beacon!.value = `0x${'5b'.repeat(32)}`;
    });
    const rb = await verifyCeremony({ dir: b, ptau });
    assert.equal(rb.failure?.code, 'BAD_BEACON');
    // The exported verifier is compiled and deployable bytecode.
    const compiled = JSON.parse(readFileSync(join(d, 'keys', 'ClaimVerifier.json'), 'utf8')) as { deployedBytecode: string };
    assert.match(compiled.deployedBytecode, /^0x[0-9a-f]{200,}$/);
  });

  it('the CLI: verify exits 1 and names the altered contribution; usage errors exit 2', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/fl-ceremony.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const ok = cli('verify', '--dir', dir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ceremony: pass contributions=2 finalized=no transcript=0x[0-9a-f]{64}$/m);
    const bad = cli('verify', '--dir', join(work, 'flipped'));
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /ceremony: FAIL at claim contribution 1 \(alice\): the stored file is not [0-9a-f]{64}: it was altered/);
    assert.equal(cli('finalize', '--dir', dir, '--beacon', 'nothex', '--beacon-source', 'x').status, 2);
    const none = cli('status', '--dir', join(work, 'nowhere'));
    assert.equal(none.status, 1);
    assert.match(none.stderr, /BAD_TRANSCRIPT: no ceremony in/);
  });
});
