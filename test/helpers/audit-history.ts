import assert from 'node:assert/strict';
import { ZeroHash, parseEther, type HDNodeWallet } from 'ethers';
import { CoordinatorApi } from '../../client/coordinator-api.ts';
import { fsContentStore } from '../../coordinator/store/fs-content-store.ts';
import { createStrategy, type ClientDelta } from '../../coordinator/strategies/index.ts';
import {
  buildManifest,
  contentHash,
  DEFAULT_DOMAIN,
  hashToField,
  toBytes32,
  updateDigest,
  decodeManifest,
  emptyServerState,
  encodeCheckpoint,
  encodeFloat32,
  encodeManifest,
  initialWeights,
  manifestRewardsTree,
  PRESET_MODELS,
  Prng,
  type Hex32,
  type ModelSpec,
  type Round,
  type RoundManifest,
  type Task,
} from '../../protocol/index.ts';
import { identityFromSeed } from '../../protocol/zk/identity.ts';
import { MembersTree } from '../../protocol/zk/members-tree.ts';
import { mined, startChain, type Chain } from '../contracts/chain.ts';
import { ADMIN, startTestCoordinator, waitFor } from './env.ts';
import { makeOwner, queueUpload } from './forge.ts';

/**
 * Histories for the auditor's tests: a real one (a test coordinator aggregates three FedAdam rounds
 * of signed random deltas, the test commits them on anvil with the registry's commitRound and one
 * contributor claims), and crafted ones (a lying coordinator: content that is consistent on chain
 * but wrong in one precise way), each on its own task id.
 */

export type TestCoordinator = Awaited<ReturnType<typeof startTestCoordinator>>;

export interface RealHistory {
  chain: Chain;
  env: TestCoordinator;
  task: Task;
  rounds: Round[];
  manifests: RoundManifest[];
  /** Block of the registry's deployment (where the audit reads from). */
  fromBlock: number;
  /** Block of each round's commit, by round (index 0 = round 1). */
  commitBlocks: number[];
  claims: { round: number; account: string; amount: bigint }[];
}

/** Commits one round exactly as the coordinator's chain writer will: the registry's commitRound. */
export async function commitRound(chain: Chain, task: number, r: Pick<Round, 'round' | 'checkpointHash' | 'baseHash' | 'manifestHash' | 'rewardsRoot' | 'reward'>, uri: string) {
  return mined(
    chain.d.registry.commitRound(task, r.round, r.checkpointHash!, r.baseHash, r.manifestHash!, r.rewardsRoot!, ZeroHash, uri, BigInt(r.reward ?? '0')),
  );
}

export async function fundTask(chain: Chain, task: number, amount: bigint) {
  await mined(chain.d.token.approve(chain.d.addresses.distributor, amount));
  await mined(chain.d.distributor.fund(task, amount));
}

/** Gives a fresh wallet gas money from an anvil dev account and claims its reward of one round. */
export async function claim(chain: Chain, wallet: HDNodeWallet, task: number, round: number, m: RoundManifest) {
  await mined(chain.signers[1]!.sendTransaction({ to: wallet.address, value: parseEther('1') }));
  const c = manifestRewardsTree(m).proofFor(wallet.address);
  assert.ok(c, `${wallet.address} has a reward in round ${round}`);
  await mined(chain.d.distributor.connect(wallet.connect(chain.provider)).claim(task, round, c.index, c.amount, c.proof));
  return { round, account: wallet.address.toLowerCase(), amount: c.amount };
}

export async function buildRealHistory(): Promise<RealHistory> {
  const chain = await startChain();
  const env = await startTestCoordinator();
  try {
    const ctx = env.c.ctx;
    const admin = new CoordinatorApi(env.c.url, ADMIN);
    const task = await admin.createTask({
      name: 'audited',
      model: 'iris-mlp',
      strategy: { name: 'fedadam', serverLr: 0.05 },
      rewards: { perRound: '1000' },
      seed: 3,
    });
    const owners = await Promise.all([1, 2, 3, 4].map((s) => makeOwner(ctx, task, s)));
    const rounds: Round[] = [];
    const manifests: RoundManifest[] = [];
    for (let r = 1; r <= 3; r++) {
      const round = await admin.openRound(task.id, { durationSeconds: 60, minClients: 3, maxClients: 3 });
      if (r === 2) {
        // One refused update (wrong base), recorded before the round closes: the manifest's rejected entry.
        const stale = await owners[3]!.update(r, task.genesisHash, 5);
        await queueUpload(env.config.redisUrl, env.config.prefix, stale);
        await waitFor('rejection', async () => ((await ctx.rounds.head(task.id, r))?.rejected === 1 ? true : null));
      }
      // 10, 20 and 40 samples: the pro-rata split of 1000 has remainders to hand out.
      for (const [i, o] of owners.slice(0, 3).entries()) {
        await queueUpload(env.config.redisUrl, env.config.prefix, await o.update(r, round.baseHash, 10 * 2 ** i));
      }
      const done = await waitFor('round aggregated', async () => {
        const s = await admin.getRound(task.id, r);
        return s.state === 'aggregated' ? s : null;
      });
      rounds.push(done);
      const bytes = await ctx.store.get('manifests', done.manifestHash!);
      manifests.push(decodeManifest(bytes!));
    }

    // On chain, as the coordinator's chain writer would do it.
    const created = await mined(chain.d.registry.createTask(task.id, task.genesisHash));
    assert.ok(created.blockNumber > chain.d.blockNumber);
    await fundTask(chain, task.id, 3000n);
    const commitBlocks: number[] = [];
    for (const r of rounds) {
      const receipt = await commitRound(chain, task.id, r, `${env.c.url}/v1/checkpoints/${r.checkpointHash}`);
      commitBlocks.push(receipt.blockNumber);
    }
    const claims = [
      await claim(chain, owners[0]!.wallet, task.id, 1, manifests[0]!),
      await claim(chain, owners[2]!.wallet, task.id, 2, manifests[1]!),
    ];
    return { chain, env, task, rounds, manifests, fromBlock: chain.d.blockNumber, commitBlocks, claims };
  } catch (e) {
    await env.cleanup();
    await chain.stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Crafted histories: a dishonest coordinator whose chain commits are well-formed
// ---------------------------------------------------------------------------------------------

export type Lie =
  /** The manifest's payout breaks the pro-rata rule (its root and sum are consistent). */
  | 'bad-split'
  /** The committed checkpoint's header names another parent than the one committed on chain. */
  | 'header-parent'
  /** The committed checkpoint is not what its accepted updates aggregate to (one weight nudged). */
  | 'bad-aggregate';

/**
 * Writes a one-round task into `dataDir` (genesis, two updates, checkpoint, manifest) and commits it
 * on chain under `taskId`, honest except for `lie`.
 */
export async function craftTask(chain: Chain, dataDir: string, taskId: number, lie: Lie) {
  const store = fsContentStore(dataDir);
  const spec = structuredClone(PRESET_MODELS['iris-mlp']) as ModelSpec;
  const genesis = { task: taskId, round: 0, parentHash: null, strategy: 'fedavg', modelSpec: spec, weights: initialWeights(spec, taskId), serverState: emptyServerState() };
  const genesisHash = await store.put('checkpoints', encodeCheckpoint(genesis));
  const rng = new Prng(taskId);
  const clients = ['0x1111111111111111111111111111111111111111', '0x2222222222222222222222222222222222222222'];
  const updates: ClientDelta[] = [];
  for (const [i] of clients.entries()) {
    const d = new Float32Array(genesis.weights.length);
    for (let k = 0; k < d.length; k++) d[k] = (rng.next() * 2 - 1) * 0.01;
    const h = await store.put('updates', encodeFloat32(d));
    updates.push({ id: h, delta: d, numSamples: 10 + 7 * i });
  }
  const result = await createStrategy({ name: 'fedavg' }).aggregate({
    base: genesis.weights,
    serverState: genesis.serverState,
    deltas: async function* () {
      yield* updates;
    },
    count: updates.length,
  });
  if (lie === 'bad-aggregate') result.weights[5] = (result.weights[5] as number) + 1e-3;
  const parentHash = lie === 'header-parent' ? (await contentHash(new TextEncoder().encode('another parent'))) : genesisHash;
  const checkpointHash = await store.put('checkpoints', encodeCheckpoint({ ...genesis, round: 1, parentHash, weights: result.weights, serverState: result.serverState }));
  const reward = lie === 'bad-split' ? 1000n : 0n;
  let m = buildManifest({
    task: taskId,
    round: 1,
    baseHash: genesisHash,
    checkpointHash,
    strategy: { name: 'fedavg' },
    reward,
    accepted: clients.map((client, i) => ({ client, updateHash: updates[i]!.id, numSamples: updates[i]!.numSamples })),
    rejected: [],
  });
  if (lie === 'bad-split') {
    // Move 100 units from the second contributor to the first; keep the sum and rebuild the root,
    // so the only thing wrong is the split itself.
    const entries = m.entries.map((e, i) => ({ ...e, reward: (BigInt(e.reward) + (i === 0 ? 100n : -100n)).toString() }));
    m = { ...m, entries };
    m = { ...m, rewardsRoot: manifestRewardsTree(m).root };
  }
  const manifestHash = await store.put('manifests', encodeManifest(m));
  await mined(chain.d.registry.createTask(taskId, genesisHash));
  if (reward > 0n) await fundTask(chain, taskId, reward);
  await commitRound(
    chain,
    taskId,
    { round: 1, checkpointHash, baseHash: genesisHash, manifestHash, rewardsRoot: m.rewardsRoot, reward: m.allocated },
    `keccak256:${checkpointHash}`,
  );
  return { genesisHash, checkpointHash: checkpointHash as Hex32, manifestHash, manifest: m };
}

// ---------------------------------------------------------------------------------------------
// Crafted private histories: real Groth16 membership proofs, one lie each
// ---------------------------------------------------------------------------------------------

export type PrivateLie =
  /** Nothing: an honest one-round private task (for comparison). */
  | 'none'
  /** One accepted entry carries another entry's (valid) proof instead of its own. */
  | 'swapped-proof'
  /**
   * A member admitted in secret: the round's root (chain and manifest agree, proofs verify) is that of
   * a tree whose last member is not the one the coordinator publishes in its members list.
   */
  | 'hidden-member'
  /** The manifest names another members root than the participationRoot committed on chain. */
  | 'manifest-root'
  /** The round is committed as if it were public: participationRoot zero. */
  | 'zero-root';

/**
 * Writes a one-round private task into `dataDir` (genesis, two members' updates with real membership
 * proofs for this chain's EIP-712 domain, checkpoint, private manifest with reward 0) and commits it on
 * chain under `taskId` with its participation root, honest except for `lie`. Returns the members list
 * the coordinator would publish (decimal commitments in admission order): a members source serves it.
 */
export async function craftPrivateTask(chain: Chain, dataDir: string, taskId: number, lie: PrivateLie) {
  // The prover (snarkjs) is loaded only here, so the public audit tests never start its threads.
  const { proveMembership } = await import('../../protocol/zk/proofs.ts');
  const store = fsContentStore(dataDir);
  const spec = structuredClone(PRESET_MODELS['iris-mlp']) as ModelSpec;
  const genesis = { task: taskId, round: 0, parentHash: null, strategy: 'fedavg', modelSpec: spec, weights: initialWeights(spec, taskId), serverState: emptyServerState() };
  const genesisHash = await store.put('checkpoints', encodeCheckpoint(genesis));
  const identities = [0, 1, 2].map((i) => identityFromSeed(`crafted private task ${taskId} member ${i}`));
  const published = identities.map((id) => id.commitment);
  // The hidden member is admitted in place of the third published one; it uploads.
  const hidden = identityFromSeed(`crafted private task ${taskId} hidden`);
  const members = lie === 'hidden-member' ? [...published.slice(0, 2), hidden.commitment] : published;
  const tree = MembersTree.of(members);
  const uploaders = lie === 'hidden-member' ? [identities[0]!, hidden] : [identities[0]!, identities[1]!];
  const domain = { name: DEFAULT_DOMAIN.name, version: DEFAULT_DOMAIN.version, chainId: chain.anvil.chainId };
  const rng = new Prng(taskId);
  const accepted: { client: string; updateHash: string; numSamples: number; proof: string[]; delta: Float32Array }[] = [];
  for (const [i, id] of uploaders.entries()) {
    const delta = new Float32Array(genesis.weights.length);
    for (let k = 0; k < delta.length; k++) delta[k] = (rng.next() * 2 - 1) * 0.01;
    const updateHash = await store.put('updates', encodeFloat32(delta));
    const numSamples = 10 + 7 * i;
    const digest = hashToField(updateDigest(domain, { task: taskId, round: 1, baseHash: genesisHash, updateHash, numSamples }));
    const { proof, nullifier } = await proveMembership({ secret: id.secret, path: tree.pathOf(id.commitment), membersRoot: tree.root, task: taskId, round: 1, updateDigest: digest });
    accepted.push({ client: toBytes32(nullifier), updateHash, numSamples, proof, delta });
  }
  if (lie === 'swapped-proof') accepted[0]!.proof = accepted[1]!.proof;
  // Folded in ascending client (nullifier) order, as close-round does.
  const ordered = [...accepted].sort((a, b) => (a.client < b.client ? -1 : 1));
  const result = await createStrategy({ name: 'fedavg' }).aggregate({
    base: genesis.weights,
    serverState: genesis.serverState,
    deltas: async function* () {
      for (const a of ordered) yield { id: a.updateHash, delta: a.delta, numSamples: a.numSamples };
    },
    count: ordered.length,
  });
  const checkpointHash = await store.put('checkpoints', encodeCheckpoint({ ...genesis, round: 1, parentHash: genesisHash, weights: result.weights, serverState: result.serverState }));
  const otherRoot = MembersTree.of(published.slice(0, 2)).rootHex;
  const m = buildManifest({
    task: taskId,
    round: 1,
    baseHash: genesisHash,
    checkpointHash,
    strategy: { name: 'fedavg' },
    reward: 0n,
    accepted: accepted.map(({ client, updateHash, numSamples, proof }) => ({ client, updateHash, numSamples, proof })),
    rejected: [],
    private: { membersRoot: lie === 'manifest-root' ? otherRoot : tree.rootHex, members: members.length },
  });
  const manifestHash = await store.put('manifests', encodeManifest(m));
  await mined(chain.d.registry.createTask(taskId, genesisHash));
  // As the chain writer commits a private round: participationRoot is the round's members root.
  const participationRoot = lie === 'zero-root' ? ZeroHash : tree.rootHex;
  await mined(chain.d.registry.commitRound(taskId, 1, checkpointHash, genesisHash, manifestHash, m.rewardsRoot, participationRoot, `keccak256:${checkpointHash}`, BigInt(m.allocated)));
  return { genesisHash, checkpointHash: checkpointHash as Hex32, manifestHash, manifest: m, participationRoot, members: published.map(String) };
}
