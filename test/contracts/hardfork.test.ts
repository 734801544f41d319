import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnits, ZeroHash } from 'ethers';
import { h, mined, rewardsTree, startChain, type Chain } from './chain.ts';

// The contracts are compiled for evmVersion cancun (they use transient storage) so they run on any
// chain at cancun or later; the other files use anvil's newest fork, this one pins cancun itself.

let chain: Chain;
before(async () => {
  chain = await startChain({ hardfork: 'cancun' });
});
after(async () => chain?.stop());

test('deploy, commit a rewarded round and claim on a cancun chain', async () => {
  const { registry, distributor, token, addresses } = chain.d;
  const claimant = chain.addresses[1]!;
  const reward = parseUnits('3', 18);
  const tree = rewardsTree([
    [claimant, reward],
    [chain.addresses[2]!, 0n],
  ]);
  await mined(registry.createTask(1, h('genesis')));
  await mined(token.approve(addresses.distributor, reward));
  await mined(distributor.fund(1, reward));
  await mined(registry.commitRound(1, 1, h('c1'), h('genesis'), h('m'), tree.root, ZeroHash, 'fl://1/1', reward));
  await mined(distributor.connect(chain.signers[1]!).claim(1, 1, tree.indexOf(claimant), reward, tree.proofOf(claimant)));
  assert.equal(await token.balanceOf(claimant), reward);
  assert.equal(await registry.latestCheckpoint(1), h('c1'));
});
