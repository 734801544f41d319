import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseEther } from 'ethers';
import { connectChain, type ChainClient } from '../../coordinator/chain/chain-client.ts';
import { createTask } from '../../coordinator/use-cases/create-task.ts';
import { openRound } from '../../coordinator/use-cases/open-round.ts';
import { attach } from '../../contracts/artifacts.ts';
import { rpcProvider } from '../../contracts/provider.ts';
import { CoordinatorApi } from '../../client/coordinator-api.ts';
import { claimRewards, claimRound, listRewards, RewardsError } from '../../client/rewards.ts';
import type { Round, Task } from '../../protocol/index.ts';
import { startChain, type Chain } from '../contracts/chain.ts';
import { startTestCoordinator, waitFor } from '../helpers/env.ts';
import { makeOwner, queueUpload } from '../helpers/forge.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `fl-client` as a child process; resolves with its exit code and output. */
function flClient(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/fl-client.js', ...args], { cwd: ROOT, timeout: 30_000, env: { ...process.env, FL_PRIVATE_KEY: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

// Data owners list and claim their rewards: real anvil, real Redis, a real coordinator committing rounds.
describe('rewards listing and claiming', () => {
  let chain: Chain;
  let client: ChainClient;
  let env: Awaited<ReturnType<typeof startTestCoordinator>>;
  let task: Task;
  let api: CoordinatorApi;
  let owners: Awaited<ReturnType<typeof makeOwner>>[];
  const committed: Round[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    chain = await startChain();
    cleanups.push(() => chain.stop());
    // Dev account 0 is the coordinator's nonce-managed signer; nobody else sends from it.
    client = await connectChain({ rpcUrl: chain.anvil.rpcUrl, privateKey: chain.anvil.privateKeys[0]!, registry: chain.d.addresses.registry, fromBlock: chain.d.blockNumber });
    cleanups.push(async () => client.close());
    env = await startTestCoordinator({}, { chain: client, chainIntervalMs: 100 });
    cleanups.push(() => env.cleanup());
    const { ctx } = env.c;
    task = await createTask(ctx, { name: 'rewards', model: 'iris-mlp', rewards: { perRound: '1000', budget: '3000' } });
    api = new CoordinatorApi(env.c.url);
    owners = [];
    for (let i = 0; i < 3; i++) owners.push(await makeOwner(ctx, task, 70 + i));
    // Different sample counts per round, so each round pays each owner something different.
    const samples = [
      [10, 20, 30],
      [25, 5, 40],
    ];
    for (const [r, counts] of samples.entries()) {
      const round = await openRound(ctx, task.id, { durationSeconds: 120, minClients: 3, maxClients: 3 });
      assert.equal(round.round, r + 1);
      for (const [i, o] of owners.entries()) await queueUpload(env.config.redisUrl, env.config.prefix, await o.update(round.round, round.baseHash, counts[i]));
      committed.push(
        await waitFor(`round ${round.round} committed`, async () => {
          const s = await ctx.rounds.get(task.id, round.round);
          return s?.state === 'committed' ? s : null;
        }, 30_000),
      );
    }
  });
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch((e) => console.error('cleanup failed:', e));
  });

  /** What the round's manifest pays `account`. */
  async function owed(round: Round, account: string): Promise<bigint> {
    const { manifest } = await api.getManifest(round.manifestHash!);
    return manifest.entries.filter((e) => e.client === account).reduce((s, e) => s + BigInt(e.reward), 0n);
  }

  test('an owner lists its verified entitlements, claims them once, and sees them claimed', async () => {
    const owner = owners[0]!;
    const expected = await Promise.all(committed.map((r) => owed(r, owner.address)));
    assert.ok(expected.every((a) => a > 0n));
    assert.notEqual(expected[0], expected[1], 'the two rounds pay differently');
    // Gas money from dev account 1 (account 0 is the coordinator's).
    await (await chain.signers[1]!.sendTransaction({ to: owner.address, value: parseEther('1') })).wait();

    const lines = await listRewards({ api, task: task.id, account: owner.wallet.address });
    assert.deepEqual(lines.map((l) => [l.round, l.amount, l.claimed, l.claimable]), [
      [1, expected[0], false, true],
      [2, expected[1], false, true],
    ]);
    assert.ok(lines.every((l) => l.proof.length > 0 && l.proof.every((p) => /^0x[0-9a-f]{64}$/.test(p))));

    const balance = () => client.token.balanceOf(owner.address);
    const before = await balance();
    const seen: number[] = [];
    const claims = await claimRewards({ api, task: task.id, signer: owner.wallet, onClaimed: (c) => seen.push(c.round) });
    assert.deepEqual(claims.map((c) => [c.round, c.amount]), [
      [1, expected[0]],
      [2, expected[1]],
    ]);
    assert.deepEqual(seen, [1, 2]);
    const total = expected[0]! + expected[1]!;
    assert.equal((await balance()) - before, total, 'paid exactly the sum of the entitlements');
    for (const c of claims) {
      const receipt = await chain.provider.getTransactionReceipt(c.txHash);
      assert.equal(receipt?.status, 1);
      assert.equal(receipt?.from.toLowerCase(), owner.address);
    }

    // Nothing left: a second run claims nothing, pays nothing.
    assert.deepEqual(await claimRewards({ api, task: task.id, signer: owner.wallet }), []);
    await assert.rejects(claimRewards({ api, task: task.id, signer: owner.wallet, rounds: [1] }), (e) => e instanceof RewardsError && e.code === 'ALREADY_CLAIMED');
    // Straight to the contract: the revert comes back by its custom error name, as a clear error.
    const provider = rpcProvider(chain.anvil.rpcUrl);
    try {
      const distributor = attach('RewardDistributor', client.addresses.distributor, owner.wallet.connect(provider));
      const line = lines[0]!;
      await assert.rejects(claimRound(distributor, task.id, line.round, line.index, line.amount, line.proof, owner.address), (e) => {
        assert.ok(e instanceof RewardsError, String(e));
        assert.equal(e.code, 'ALREADY_CLAIMED');
        assert.equal(e.revertName, 'DistributorAlreadyClaimed');
        assert.match(e.message, /round 1 of task \d+ was already claimed by 0x[0-9a-f]{40} \(DistributorAlreadyClaimed\)/);
        return true;
      });
    } finally {
      provider.destroy();
    }
    assert.equal((await balance()) - before, total, 'no second payment');

    const after = await listRewards({ api, task: task.id, account: owner.address });
    assert.deepEqual(after.map((l) => [l.round, l.amount, l.claimed, l.claimable]), [
      [1, expected[0], true, false],
      [2, expected[1], true, false],
    ]);
  });

  test('a coordinator whose round disagrees with its manifest or the chain is not believed', async () => {
    class LyingApi extends CoordinatorApi {
      override async getRound(t: number, r: number) {
        const round = await super.getRound(t, r);
        return r === 2 ? { ...round, rewardsRoot: `0x${'ab'.repeat(32)}` as const } : round;
      }
    }
    await assert.rejects(listRewards({ api: new LyingApi(env.c.url), task: task.id, account: owners[1]!.address }), (e) => {
      assert.ok(e instanceof RewardsError, String(e));
      assert.equal(e.code, 'ROOT_MISMATCH');
      assert.match(e.message, /round 2 of task/);
      return true;
    });
    // Nothing owed to a stranger; an owner without ETH cannot pay the gas of a claim.
    assert.deepEqual(await listRewards({ api, task: task.id, account: `0x${'12'.repeat(20)}` }), []);
    await assert.rejects(claimRewards({ api, task: task.id, signer: owners[2]!.wallet }), (e) => e instanceof RewardsError && e.code === 'NO_GAS');
  });

  test('fl-client rewards prints the verified table and exits 0', async () => {
    const owner = owners[1]!;
    const expected = await Promise.all(committed.map((r) => owed(r, owner.address)));
    const res = await flClient(['rewards', '--coordinator', env.c.url, '--task', String(task.id)], { FL_PRIVATE_KEY: owner.wallet.privateKey });
    assert.equal(res.code, 0, res.stderr);
    const rows = res.stdout.trim().split('\n');
    assert.match(rows[0]!, new RegExp(`rewards of ${owner.address} in task ${task.id}`));
    assert.match(rows[1]!, /round\s+amount \(base units\)\s+amount \(tokens\)\s+claimed/);
    for (const [i, amount] of expected.entries()) {
      assert.match(rows[2 + i]!, new RegExp(`^\\s+${i + 1}\\s+${amount}\\s+0\\.0+${amount}\\s+no$`));
    }
    const total = expected[0]! + expected[1]!;
    assert.match(rows[4]!, new RegExp(`^total\\s+${total}\\s+0\\.0+${total}\\s+unclaimed ${total} `));
    // A usage error is exit 1; a coordinator that refuses is exit 2.
    const usage = await flClient(['rewards', '--coordinator', env.c.url, '--task', String(task.id), '--address', 'nope']);
    assert.equal(usage.code, 1, usage.stderr);
    const refused = await flClient(['rewards', '--coordinator', env.c.url, '--task', '999', '--address', owner.address]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /coordinator said/);
  });

  test('fl-client rewards --json gives each public line what distributor.claim takes: any wallet can claim with it', async () => {
    const owner = owners[1]!;
    const res = await flClient(['rewards', '--coordinator', env.c.url, '--task', String(task.id), '--json'], { FL_PRIVATE_KEY: owner.wallet.privateKey });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { rewards: { round: number; index: number; proof: string[]; amount: string; claimed: boolean }[] };
    assert.equal(out.rewards.length, committed.length);
    // Claimed by hand, straight on the contract, from the printed fields alone (gas money first).
    await (await chain.signers[1]!.sendTransaction({ to: owner.address, value: parseEther('1') })).wait();
    const provider = rpcProvider(chain.anvil.rpcUrl);
    try {
      const distributor = attach('RewardDistributor', chain.d.addresses.distributor, owner.wallet.connect(provider));
      for (const line of out.rewards) {
        assert.equal(line.claimed, false);
        const before = await chain.d.token.balanceOf(owner.address);
        await (await distributor.claim(task.id, line.round, line.index, BigInt(line.amount), line.proof)).wait();
        assert.equal(await chain.d.token.balanceOf(owner.address), before + BigInt(line.amount));
        assert.equal(await distributor.isClaimed(task.id, line.round, line.index), true);
      }
    } finally {
      provider.destroy();
    }
  });
});
