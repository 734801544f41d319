import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { vkeyPath } from '../../circuits/artefacts.ts';
import { CEREMONY_FORMAT, transcriptBytes, transcriptHash, vkeyHash, type Transcript } from '../../circuits/ceremony/transcript.ts';
import { connectChain } from '../../coordinator/chain/chain-client.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { admitMembers } from '../../coordinator/use-cases/admit-members.ts';
import { decodeCheckpoint } from '../../protocol/index.ts';
import { identityFromSeed } from '../../protocol/zk/index.ts';
import { ADMIN, startTestCoordinator } from '../helpers/env.ts';
import { startChain } from '../contracts/chain.ts';

const ROOT = join(import.meta.dirname, '..', '..');

// Real Redis and a real coordinator: which zero-knowledge keys a private task pins, and when the
// coordinator refuses. The proofs themselves run in the zk, private-task and demo tests.
const body = { name: 'private iris', model: 'iris-mlp', privacy: 'private', rewards: { perRound: '1000', budget: '3000' } } as const;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});


/**
 * A hand-made finalized folder whose verification keys differ from the development ones: the guards
 * compare hashes only, so no real ceremony is needed for these checks (ceremony.test.ts and the e2e
 * demo run real ones). Its ClaimVerifier.json is the development verifier's with other runtime code.
 */
function fakeCeremonyFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fl-fake-keys-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'keys'));
  const sha = (c: string) => c.repeat(64);
  const final: NonNullable<Transcript['final']> = {};
  for (const name of ['membership', 'claim'] as const) {
    const vk = { ...(JSON.parse(readFileSync(vkeyPath(name), 'utf8')) as object), note: 'not the development key' };
    writeFileSync(join(dir, 'keys', `${name}.vkey.json`), JSON.stringify(vk));
    final[name] = { zkey: sha('c'), vkeyHash: vkeyHash(vk), verifierSha256: sha('d') };
  }
  const step = { prev: sha('a'), zkey: sha('b'), hash: 'e'.repeat(128) };
  const fake: Transcript = {
    format: CEREMONY_FORMAT,
    ptau: { sha256: sha('0') },
    circuits: { membership: { r1cs: sha('1'), init: sha('a') }, claim: { r1cs: sha('2'), init: sha('a') } },
    contributions: [{ index: 1, name: 'x', circuits: { membership: step, claim: step } }],
    beacon: { source: 'test', value: `0x${'5'.repeat(64)}`, iterationsExp: 10, circuits: { membership: { ...step, zkey: sha('c') }, claim: { ...step, zkey: sha('c') } } },
    final,
  };
  writeFileSync(join(dir, 'ceremony.json'), transcriptBytes(fake));
  const dev = JSON.parse(readFileSync(join(ROOT, 'contracts', 'out', 'ClaimVerifier.json'), 'utf8')) as object;
  writeFileSync(join(dir, 'keys', 'ClaimVerifier.json'), JSON.stringify({ ...dev, deployedBytecode: '0x6000' }));
  return dir;
}

describe('zero-knowledge keys of private tasks', () => {
  it('a private task pins the development keys in its genesis checkpoint and its API record; open tasks pin nothing', async () => {
    const env = await startTestCoordinator();
    cleanups.push(() => env.cleanup());
    const t = await createTask(env.c.ctx, body);
    const devMembership = vkeyHash(JSON.parse(readFileSync(vkeyPath('membership'), 'utf8')));
    assert.deepEqual(t.zk, { kind: 'development', membershipVkey: devMembership, claimVkey: vkeyHash(JSON.parse(readFileSync(vkeyPath('claim'), 'utf8'))), transcript: null, contributors: 0 });
    const genesis = decodeCheckpoint((await env.c.ctx.store.get('checkpoints', t.genesisHash))!);
    assert.deepEqual(genesis.zkKeys, t.zk, 'the chain commits the pin with the genesis hash');
    const res = await fetch(`${env.c.url}/v1/tasks/${t.id}`);
    assert.equal(((await res.json()) as { zk?: { kind: string } }).zk?.kind, 'development');
    const open = await createTask(env.c.ctx, { ...body, privacy: 'public' });
    assert.equal(open.zk, undefined);
    assert.equal(decodeCheckpoint((await env.c.ctx.store.get('checkpoints', open.genesisHash))!).zkKeys, undefined);
  });

  it('in production (NODE_ENV=production) a private task with the development keys is refused, saying how to run a ceremony', async () => {
    const env = await startTestCoordinator({ production: true });
    cleanups.push(() => env.cleanup());
    await assert.rejects(createTask(env.c.ctx, body), (e: Error & { code?: string; status?: number }) => e.code === 'DEVELOPMENT_KEYS' && e.status === 409 && /fl-ceremony/.test(e.message) && /FL_ZK_KEYS/.test(e.message));
    // Open tasks need no keys.
    assert.equal((await createTask(env.c.ctx, { ...body, privacy: 'public' })).privacy, 'public');
  });

  it('a coordinator started with other keys than a task pinned refuses its rounds, naming both', async () => {
    const env = await startTestCoordinator();
    cleanups.push(() => env.cleanup());
    const t = await createTask(env.c.ctx, body);
    await admitMembers(env.c.ctx, t.id, { commitments: [identityFromSeed('m0').commitment.toString()] });
    const dir = fakeCeremonyFolder();
    const before = process.env.FL_ZK_KEYS;
    process.env.FL_ZK_KEYS = dir;
    try {
      await assert.rejects(openRound(env.c.ctx, t.id, { durationSeconds: 60 }), (e: Error & { code?: string }) => e.code === 'ZK_KEYS_MISMATCH' && /development keys/.test(e.message) && e.message.includes(dir));
    } finally {
      if (before === undefined) delete process.env.FL_ZK_KEYS;
      else process.env.FL_ZK_KEYS = before;
    }
    assert.equal((await openRound(env.c.ctx, t.id, { durationSeconds: 60 })).round, 1, 'with its own keys the round opens');
  });
  it('start-up: a FL_ZK_KEYS folder that is not a finalized ceremony stops the coordinator with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-open-ceremony-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const open = JSON.parse(readFileSync(join(fakeCeremonyFolder(), 'ceremony.json'), 'utf8')) as Transcript;
    writeFileSync(join(dir, 'ceremony.json'), transcriptBytes({ ...open, beacon: null, final: null }));
    await assert.rejects(startTestCoordinator({ zkKeysDir: dir }), (e: Error) => e.message.startsWith(`FL_ZK_KEYS=${dir}: `) && /not finalized/.test(e.message) && /fl-ceremony finalize/.test(e.message));
    await assert.rejects(startTestCoordinator({ zkKeysDir: join(dir, 'nothing-here') }), (e: Error) => /FL_ZK_KEYS=/.test(e.message));
  });

  it('a coordinator on ceremony keys publishes that ceremony read-only at /v1/ceremony, and refuses a chain whose claim verifier is not its keys\'', async () => {
    const dir = fakeCeremonyFolder();
    const pinned = transcriptHash(JSON.parse(readFileSync(join(dir, 'ceremony.json'), 'utf8')) as Transcript);
    const env = await startTestCoordinator({ zkKeysDir: dir });
    cleanups.push(() => env.cleanup());
    const state = (await (await fetch(`${env.c.url}/v1/ceremony`)).json()) as { transcriptHash: string; finalized: boolean };
    assert.equal(state.transcriptHash, pinned, 'the auditor finds the pinned transcript here');
    assert.equal(state.finalized, true);
    const start = await fetch(`${env.c.url}/v1/ceremony`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(start.status, 409);
    assert.match(((await start.json()) as { error: { message: string } }).error.message, /FL_ZK_KEYS/);
    const submit = await fetch(`${env.c.url}/v1/ceremony/contributions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'late', circuits: {} }) });
    assert.equal(submit.status, 409, 'a contribution to a published ceremony is refused');
    assert.equal(((await submit.json()) as { error: { code: string } }).error.code, 'FINALIZED');

    // The chain's distributor runs the development claim verifier: with these keys no private claim
    // would verify, so the coordinator does not start; with the development keys it does.
    const chain = await startChain();
    cleanups.push(() => chain.stop());
    const client = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(async () => client.close());
    await assert.rejects(startTestCoordinator({ zkKeysDir: dir }, { chain: client }), (e: Error) => /claim verifier .* does not run the claim key of the ceremony in/.test(e.message) && /npm run deploy -- --zk-keys/.test(e.message));
    const dev = await startTestCoordinator({}, { chain: client });
    cleanups.push(() => dev.cleanup());
  });
});
