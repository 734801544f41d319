import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildCircuits, DEFAULT_PTAU } from '../../circuits/build.ts';
import { filePath, makeContribution, verifyCeremony, type Candidate } from '../../circuits/ceremony/ceremony.ts';
import { CeremonyError, vkeyHash } from '../../circuits/ceremony/transcript.ts';
import { contributeRemote, fetchCeremony } from '../../client/ceremony/remote.ts';
import { CeremonyState } from '../../protocol/ceremony-api.ts';
import { terminateZk } from '../../protocol/zk/proofs.ts';
import { ADMIN, startTestCoordinator } from '../helpers/env.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';

// A setup ceremony hosted by a real coordinator (Redis, HTTP): contributions travel through
// /v1/ceremony, are verified on arrival by real snarkjs and accepted only in turn. The claim
// circuit only (a second or two per step); the membership circuit runs the same code.
const ROOT = join(import.meta.dirname, '..', '..');
const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'fl-ceremony-hosted-'));
const auth = { authorization: `Bearer ${ADMIN}` };
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [join(ROOT, 'bin', 'fl-ceremony.js'), ...args], { cwd: ROOT, timeout: 180_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('hosted setup ceremony (/v1/ceremony)', () => {
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let chain: Chain | undefined;
  let client: ChainClient | undefined;
  let url: string;
  const api = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, init);
  const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    api(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const put = (path: string, body: Uint8Array, type = 'application/octet-stream') => api(path, { method: 'PUT', headers: { 'content-type': type }, body: body as unknown as RequestInit['body'] });
  async function expectError(res: Response, status: number, code: string): Promise<string> {
    const text = await res.text();
    assert.equal(res.status, status, text);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code, text);
    assert.equal(typeof body.error.message, 'string');
    assert.doesNotMatch(body.error.message, new RegExp(env.config.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the data directory is not disclosed');
    return body.error.message;
  }
  const state = async () => CeremonyState.parse(await (await api('/v1/ceremony')).json());
  const uploadAll = async (dir: string, c: Candidate) => {
    for (const [n, s] of Object.entries(c.circuits)) {
      const res = await put(`/v1/ceremony/contributions/${n}/${s!.zkey}`, readFileSync(filePath(dir, s!.zkey)));
      assert.equal(res.status, 201, await res.text());
    }
  };
  /** Who won the race of the two candidates made on the same file. */
  let winner = '';

  before(async () => {
    await buildCircuits({ quiet: true });
    // A chain too: the hosted ceremony's beacon is one of its blocks.
    chain = await startChain();
    client = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    env = await startTestCoordinator({}, { chain: client });
    url = env.c.url;
  });
  after(async () => {
    await env?.cleanup();
    client?.close();
    await chain?.stop();
    rmSync(work, { recursive: true, force: true });
    await terminateZk();
  });

  it('before a ceremony: GET answers 404 NO_CEREMONY, and only the admin may start one', async () => {
    await expectError(await api('/v1/ceremony'), 404, 'NO_CEREMONY');
    await expectError(await postJson('/v1/ceremony', { circuits: ['claim'] }), 401, 'UNAUTHORIZED');
    await expectError(await postJson('/v1/ceremony', { circuits: ['claim'] }, { authorization: 'Bearer not-the-token' }), 401, 'UNAUTHORIZED');
    await expectError(await postJson('/v1/ceremony', { circuits: ['claim', 'nope'] }, auth), 400, 'VALIDATION_FAILED');
    await expectError(await api('/v1/ceremony'), 404, 'NO_CEREMONY');
  });

  it('the admin starts a ceremony over the claim circuit (201); a second start is 409', async () => {
    const res = await postJson('/v1/ceremony', { circuits: ['claim'] }, auth);
    assert.equal(res.status, 201, await res.clone().text());
    const s = CeremonyState.parse(await res.json());
    assert.deepEqual(Object.keys(s.transcript.circuits), ['claim']);
    assert.equal(s.latest.claim, s.transcript.circuits.claim!.init);
    assert.equal(s.finalized, false);
    assert.deepEqual(await state(), s);
    await expectError(await postJson('/v1/ceremony', { circuits: ['claim'] }, auth), 409, 'CEREMONY_EXISTS');
    // The latest file, as served, hashes to its name.
    const file = await api(`/v1/ceremony/files/${s.latest.claim}`);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'application/octet-stream');
    assert.equal(sha256(new Uint8Array(await file.arrayBuffer())), s.latest.claim);
  });

  it('two contributors contribute in turn through contributeRemote, each verified on arrival', async () => {
    const a = await contributeRemote({ coordinator: url, name: 'alice' });
    assert.equal(a.index, 1);
    const afterAlice = await state();
    assert.equal(afterAlice.latest.claim, a.circuits.claim!.zkey);
    const keep = join(work, 'bob-folder');
    const b = await contributeRemote({ coordinator: url, name: 'bob', entropy: 'bob typed this', dir: keep });
    assert.equal(b.index, 2);
    assert.equal(b.circuits.claim!.prev, a.circuits.claim!.zkey, "bob's contribution is built on alice's");
    assert.ok(existsSync(filePath(keep, b.circuits.claim!.zkey)), 'a given dir is kept, with the new file');
    const s = await state();
    assert.deepEqual(s.transcript.contributions.map((c) => c.name), ['alice', 'bob']);
    assert.equal(s.latest.claim, b.circuits.claim!.zkey);
  });

  it('bytes that do not hash to their path are refused, not stored and not served; so are other bodies that are no zkey', async () => {
    const s = await state();
    const good = new Uint8Array(await (await api(`/v1/ceremony/files/${s.latest.claim}`)).arrayBuffer());
    const tampered = Uint8Array.from(good);
    tampered[tampered.length - 100]! ^= 1;
    await expectError(await put(`/v1/ceremony/contributions/claim/${'ab'.repeat(32)}`, good), 400, 'FILE_MISMATCH');
    await expectError(await put(`/v1/ceremony/contributions/claim/${s.latest.claim}`, tampered), 400, 'FILE_MISMATCH');
    assert.equal(existsSync(join(env.config.dataDir, 'ceremony', 'files', `${'ab'.repeat(32)}.zkey`)), false);
    await expectError(await api(`/v1/ceremony/files/${'ab'.repeat(32)}`), 404, 'NOT_FOUND');
    const text = new TextEncoder().encode('not a key');
    await expectError(await put(`/v1/ceremony/contributions/claim/${sha256(text)}`, text), 400, 'NOT_A_ZKEY');
    await expectError(await put(`/v1/ceremony/contributions/claim/${sha256(good)}`, good, 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await put(`/v1/ceremony/contributions/membership/${sha256(good)}`, good), 404, 'UNKNOWN_CIRCUIT');
    await expectError(await put('/v1/ceremony/contributions/claim/NOT-A-SHA', good), 400, 'VALIDATION_FAILED');
    await expectError(await api('/v1/ceremony/files/..%2Fceremony.json'), 400, 'VALIDATION_FAILED');
    // Re-uploading a file that is there already is harmless (200, stored: false).
    const again = await put(`/v1/ceremony/contributions/claim/${s.latest.claim}`, good);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { stored: boolean }).stored, false);
  });

  it('of two contributions made on the same latest file, one is accepted and the other refused with 409 STALE_CONTRIBUTION', async () => {
    const dir = join(work, 'race');
    await fetchCeremony({ coordinator: url, dir });
    const carol = await makeContribution({ dir, name: 'carol' });
    const dave = await makeContribution({ dir, name: 'dave' });
    assert.equal(carol.circuits.claim!.prev, dave.circuits.claim!.prev);
    // A contribution naming a file that was never uploaded, or claiming another's name, is refused on arrival.
    await expectError(await postJson('/v1/ceremony/contributions', carol), 422, 'MISSING_FILE');
    await uploadAll(dir, carol);
    await uploadAll(dir, dave);
    await expectError(await postJson('/v1/ceremony/contributions', { ...carol, name: 'mallory' }), 422, 'BAD_CONTRIBUTION');
    await expectError(await postJson('/v1/ceremony/contributions', { name: 'carol' }), 400, 'VALIDATION_FAILED');
    // Both at once: the folder lock takes them in turn, and the second is no longer on the latest file.
    const [rc, rd] = await Promise.all([postJson('/v1/ceremony/contributions', carol), postJson('/v1/ceremony/contributions', dave)]);
    assert.deepEqual([rc.status, rd.status].sort(), [201, 409], `${await rc.clone().text()} / ${await rd.clone().text()}`);
    const [won, lost] = rc.status === 201 ? [rc, rd] : [rd, rc];
    const accepted = (await won.json()) as { contribution: { index: number; name: string }; transcriptHash: string };
    assert.equal(accepted.contribution.index, 3);
    winner = accepted.contribution.name;
    assert.match(await expectError(lost, 409, 'STALE_CONTRIBUTION'), /fetch the latest files/);
    const s = await state();
    assert.deepEqual(s.transcript.contributions.map((c) => c.name), ['alice', 'bob', winner]);
    assert.equal(accepted.transcriptHash, s.transcriptHash);
    // The refused file was uploaded but is not served: the transcript does not name it.
    const loser = winner === 'carol' ? dave : carol;
    await expectError(await api(`/v1/ceremony/files/${loser.circuits.claim!.zkey}`), 404, 'NOT_FOUND');
  });

  it('fl-ceremony contribute --coordinator contributes through the coordinator; --dir with it, or neither, is a usage error', async () => {
    const r = await cli(['contribute', '--coordinator', url, '--name', 'erin', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { index: number; name: string };
    assert.equal(out.index, 4);
    assert.equal(out.name, 'erin');
    const both = await cli(['contribute', '--coordinator', url, '--dir', work, '--name', 'x']);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /cannot be used with/);
    const neither = await cli(['contribute', '--name', 'x']);
    assert.equal(neither.code, 2, neither.stderr);
    assert.match(neither.stderr, /--coordinator/);
  });

  it('only the admin may finalize; finalizing closes the ceremony to contributions', async () => {
    const beacon = { beacon: `0x${'5a'.repeat(32)}`, source: 'a fixed test value' };
    await expectError(await postJson('/v1/ceremony/finalize', beacon), 401, 'UNAUTHORIZED');
    await expectError(await postJson('/v1/ceremony/finalize', beacon, { authorization: 'Bearer not-the-token' }), 401, 'UNAUTHORIZED');
    await expectError(await postJson('/v1/ceremony/finalize', { ...beacon, beacon: '0x1234' }, auth), 400, 'VALIDATION_FAILED');
    // The announced block is not mined yet: refused, nothing changes.
    const next = (await chain!.provider.getBlockNumber()) + 1;
    await expectError(await postJson('/v1/ceremony/finalize', { beaconBlock: next }, auth), 400, 'BAD_BEACON');
    assert.equal(CeremonyState.parse(await (await api('/v1/ceremony')).json()).finalized, false);
    await chain!.provider.send('evm_mine', []);
    const res = await postJson('/v1/ceremony/finalize', { beaconBlock: next }, auth);
    assert.equal(res.status, 200, await res.clone().text());
    const s = CeremonyState.parse(await res.json());
    assert.equal(s.finalized, true);
    const block = await chain!.provider.getBlock(next);
    assert.equal(s.transcript.beacon!.value, block!.hash!.toLowerCase(), 'the beacon is the block hash, read by the coordinator');
    assert.deepEqual(s.transcript.beacon!.block, { chainId: 31337, number: next });
    assert.equal(s.transcript.beacon!.source, `hash of block ${next} on chain 31337`);
    assert.equal(s.latest.claim, s.transcript.final!.claim!.zkey);
    await expectError(await postJson('/v1/ceremony/finalize', beacon, auth), 409, 'FINALIZED');
    await assert.rejects(contributeRemote({ coordinator: url, name: 'late' }), (e: unknown) => e instanceof CeremonyError && e.code === 'FINALIZED');
    const any = new Uint8Array(await (await api(`/v1/ceremony/files/${s.latest.claim}`)).arrayBuffer());
    await expectError(await put(`/v1/ceremony/contributions/claim/${sha256(any)}`, any), 409, 'FINALIZED');
  });

  it('fl-ceremony fetch mirrors the hosted ceremony, and it verifies offline, listing every contributor', async () => {
    const dir = join(work, 'fetched');
    const r = await cli(['fetch', '--coordinator', url, '--dir', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { contributions: number; finalized: boolean; files: number; transcriptHash: string };
    assert.equal(out.contributions, 4);
    assert.equal(out.finalized, true);
    assert.equal(out.files, 6, 'the initial key, four contributions and the beacon output');
    const s = await state();
    assert.equal(out.transcriptHash, s.transcriptHash);
    const v = await verifyCeremony({ dir, ptau: DEFAULT_PTAU, provider: chain!.provider });
    assert.equal(v.ok, true, JSON.stringify(v.failure));
    assert.deepEqual(v.contributors.map((c) => c.name), ['alice', 'bob', winner, 'erin']);
    assert.equal(v.transcriptHash, s.transcriptHash);
    assert.match(v.beacon?.check ?? '', /^the beacon is the hash of block \d+ on chain 31337$/);
    // A transcript whose beacon names another block than the one its value came from fails verify.
    const moved = join(work, 'moved-beacon');
    cpSync(dir, moved, { recursive: true });
    const t = JSON.parse(readFileSync(join(moved, 'ceremony.json'), 'utf8')) as { beacon: { block: { number: number } } };
    t.beacon.block.number -= 1;
    writeFileSync(join(moved, 'ceremony.json'), JSON.stringify(t));
    const w = await verifyCeremony({ dir: moved, ptau: DEFAULT_PTAU, provider: chain!.provider });
    assert.equal(w.failure?.code, 'BAD_BEACON');
    assert.match(w.failure!.reason, /is not the hash of block/);
    // The final keys are laid out as finalize leaves them, so FL_ZK_KEYS can name the folder.
    assert.equal(vkeyHash(JSON.parse(readFileSync(join(dir, 'keys', 'claim.vkey.json'), 'utf8'))), s.transcript.final!.claim!.vkeyHash);
    assert.ok(existsSync(join(dir, 'keys', 'ClaimVerifier.sol')) && existsSync(join(dir, 'keys', 'ClaimVerifier.json')) && existsSync(join(dir, 'keys', 'claim.zkey')));
    // A second fetch downloads nothing new.
    const again = await fetchCeremony({ coordinator: url, dir });
    assert.equal(again.downloaded, 0);
  });
});
