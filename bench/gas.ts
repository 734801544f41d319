/**
 * Chain gas figures: what committing a round and claiming a reward cost, on a private anvil with the
 * contracts built and deployed from this repo.
 *
 * Baseline (same anvil, same run): a plain ERC-20 `transfer` of the reward token to a recipient that
 * already holds it (`erc20_transfer_to_holder`), the cheapest token movement a claim ends with.
 *
 *   commit_gas_5 / commit_gas_500  registry.commitRound (with a reward) of round 2 of a funded task
 *                                  whose round 1 is committed, with a rewards tree of 5 / 500 random
 *                                  contributors (protocol/rewards.ts rewardsTree, amounts summing to
 *                                  the reward); the execution gas (gasUsed - 21,000 - calldata gas)
 *                                  must be equal, the totals differ only by calldata zero bytes.
 *   claim_gas_warm / claim_gas_cold distributor.claim from the 500-leaf tree by a recipient already
 *                                  holding the token / holding none (the token's fresh balance slot),
 *                                  both at leaf indices below 64 (claimed flag in the round's slot).
 *   claim_gas_overflow_first       the first claim of a leaf from 64 on in its word of 256 flags,
 *                                  which pays that word's fresh slot (the worst case; recipient
 *                                  holding the token). Two such claims in a 500-leaf round.
 *   claim_private_gas_warm         distributor.claimPrivate, sent by the deployer as a relayer, from a
 *                                  500-leaf private tree (nullifier, amount) of round 2 of a third task,
 *                                  paying the warm recipient: a real Groth16 proof (protocol/zk) checked
 *                                  by the deployed ClaimVerifier, plus the same accounting as a claim.
 */
import { randomBytes } from 'node:crypto';
import { hexlify, keccak256, parseUnits, toUtf8Bytes, ZeroHash, type TransactionReceipt } from 'ethers';
import { buildCircuits } from '../circuits/build.ts';
import { startAnvil } from '../contracts/anvil.ts';
import { buildContracts } from '../contracts/build.ts';
import { deployContracts } from '../contracts/deploy.ts';
import { managedSigner, rpcProvider } from '../contracts/provider.ts';
import { rewardsTree, splitProRata, type RewardEntry } from '../protocol/rewards.ts';
import { createIdentity, nullifierOf, proveClaim, terminateZk, toBytes32 } from '../protocol/zk/index.ts';
import { note, type Figure } from './common.ts';

export interface GasOptions {
  /** Contributors of the small and the large rewards tree. */
  small: number;
  large: number;
  /** Upper bounds of the targets, in gas. */
  commitLimit: number;
  claimLimit: number;
  /** Upper bound of claim_private_gas_warm (a Groth16 pairing check alone is 181,000 gas). */
  claimPrivateLimit?: number;
}

export interface GasDiagnostics {
  erc20TransferToEmpty: number;
  erc20TransferToHolder: number;
  commitFirstRound: number;
  commit: Record<string, { gasUsed: number; calldata: number; execution: number }>;
  claim: Record<string, { gasUsed: number; calldata: number; execution: number; proofLength: number }>;
  claimPrivate: { gasUsed: number; calldata: number; execution: number; proofLength: number; proveMs: number };
  hardfork: string;
  elapsedMs: number;
}

const h = (label: string) => keccak256(toUtf8Bytes(label));
const randomAddress = () => hexlify(randomBytes(20));
/** A random private-tree key: 31 bytes, so below the SNARK field like a real nullifier, as a 32-byte word. */
const randomNullifier = () => toBytes32(BigInt(hexlify(randomBytes(31))));

/** Gas of a transaction's calldata (EIP-2028: 4 per zero byte, 16 per other byte). */
function calldataGas(data: string): number {
  let gas = 0;
  for (let i = 2; i < data.length; i += 2) gas += data.slice(i, i + 2) === '00' ? 4 : 16;
  return gas;
}

async function mined(tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error('transaction was not mined');
  if (receipt.status !== 1) throw new Error(`transaction ${receipt.hash} reverted`);
  return receipt;
}

/** `n` random accounts (plus `include`) with random positive amounts summing exactly to `reward`. */
function randomRewards(n: number, reward: bigint, include: string[] = [], randomAccount = randomAddress): RewardEntry[] {
  const accounts = [...include.map((a) => a.toLowerCase())];
  while (accounts.length < n) accounts.push(randomAccount());
  // Scores 1..2^20; with a reward of 10^21 base units no share rounds down to 0.
  const scores = accounts.map(() => BigInt(randomBytes(4).readUInt32BE() % 1_048_576) + 1n);
  const amounts = splitProRata(reward, scores);
  // Shuffle so the included accounts sit anywhere in the input (the tree sorts leaves by hash anyway).
  const entries = accounts.map((account, i) => ({ account, amount: amounts[i]! }));
  for (let i = entries.length - 1; i > 0; i--) {
    const j = randomBytes(4).readUInt32BE() % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return entries;
}

export async function benchGas(o: GasOptions): Promise<{ figures: Figure[]; diagnostics: GasDiagnostics }> {
  const started = performance.now();
  await buildContracts({ quiet: true });
  // The claim circuit's proving artefacts are gitignored; build them when missing or stale.
  await buildCircuits({ quiet: true });
  const anvil = await startAnvil();
  const provider = rpcProvider(anvil.rpcUrl, { chainId: anvil.chainId });
  try {
    const [deployer, warmSigner, coldSigner, highSigner] = anvil.privateKeys.slice(0, 4).map((k) => managedSigner(k, provider));
    if (!deployer || !warmSigner || !coldSigner || !highSigner) throw new Error('anvil gave fewer than 4 dev accounts');
    const [warm, cold, high] = [await warmSigner.getAddress(), await coldSigner.getAddress(), await highSigner.getAddress()];
    const d = await deployContracts(deployer);
    const hardfork = await provider
      .send('anvil_nodeInfo', [])
      .then((info: { hardFork?: unknown }) => String(info.hardFork ?? 'unknown'))
      .catch(() => 'unknown');

    /** gasUsed, calldata gas and execution gas (gasUsed - 21,000 - calldata) of a mined transaction. */
    const costOf = async (receipt: TransactionReceipt) => {
      const tx = await provider.getTransaction(receipt.hash);
      if (!tx) throw new Error(`transaction ${receipt.hash} not found`);
      const gasUsed = Number(receipt.gasUsed);
      const calldata = calldataGas(tx.data);
      return { gasUsed, calldata, execution: gasUsed - 21_000 - calldata };
    };

    // Baseline: the first transfer to `warm` creates its balance slot; the second one is the baseline.
    const unit = parseUnits('1', 18);
    const toEmpty = await costOf(await mined(d.token.transfer(warm, unit)));
    const toHolder = await costOf(await mined(d.token.transfer(warm, unit)));
    const baseline = { name: 'erc20_transfer_to_holder', value: toHolder.gasUsed, unit: 'gas' };

    // Two funded tasks, round 1 committed on each, so both measured commits (round 2) start from the
    // same storage state and differ only in their rewards root.
    const reward = parseUnits('1000', 18);
    const uri = 'fl://bench/round-2';
    let nextTask = 1;
    let firstRound = 0;
    const warmTask = async () => {
      const task = nextTask++;
      const genesis = h(`genesis:${task}`);
      await mined(d.registry.createTask(task, genesis));
      // Budget for three rounds: round 2 leaves some, as a running task would (emptying the budget
      // would earn the commit an SSTORE refund that a real commit rarely gets).
      await mined(d.token.approve(d.addresses.distributor, reward * 3n));
      await mined(d.distributor.fund(task, reward * 3n));
      const r1 = rewardsTree(randomRewards(o.small, reward));
      const first = await mined(d.registry.commitRound(task, 1, h(`c1:${task}`), genesis, h(`m1:${task}`), r1.root, ZeroHash, uri, reward));
      firstRound = Number(first.gasUsed);
      return task;
    };
    const commitRound2 = async (task: number, root: string) =>
      costOf(await mined(d.registry.commitRound(task, 2, h(`c2:${task}`), h(`c1:${task}`), h(`m2:${task}`), root, ZeroHash, uri, reward)));

    const smallTree = rewardsTree(randomRewards(o.small, reward));
    // The large tree holds the three claimants, warm and cold at random leaf indices below 64 and
    // `high` at one from 256 on (the first claim of overflow word 1); redraw it until their proofs
    // are equally long, so the claims differ only in the recipient's balance slot and the flag's slot.
    const draw = () => {
      const entries = randomRewards(o.large, reward, [warm, cold, high]);
      const at = (who: string) => entries.findIndex((e) => e.account === who.toLowerCase());
      const place = (who: string, to: number) => {
        const from = at(who);
        [entries[from], entries[to]] = [entries[to]!, entries[from]!];
      };
      const spot = () => randomBytes(1)[0]! % 32;
      place(warm, spot());
      place(cold, 32 + spot());
      place(high, 256 + (randomBytes(2).readUInt16BE() % (o.large - 256)));
      return rewardsTree(entries);
    };
    let largeTree = draw();
    const depth = (who: string) => largeTree.proofFor(who)!.proof.length;
    for (let tries = 0; depth(warm) !== depth(cold) || depth(warm) !== depth(high); tries++) {
      if (tries > 100) throw new Error('could not draw a tree with equally deep claimants');
      largeTree = draw();
    }
    if (largeTree.proofFor(warm)!.index >= 64 || largeTree.proofFor(cold)!.index >= 64 || largeTree.proofFor(high)!.index < 256) throw new Error('claimants not where the figures need them');
    if (smallTree.size !== o.small || largeTree.size !== o.large) throw new Error(`trees have ${smallTree.size} and ${largeTree.size} leaves`);

    const taskSmall = await warmTask();
    const taskLarge = await warmTask();
    const commitSmall = await commitRound2(taskSmall, smallTree.root);
    const commitLarge = await commitRound2(taskLarge, largeTree.root);

    // Claims from the large tree's round.
    if ((await d.token.balanceOf(cold)) !== 0n) throw new Error('the cold claimant already holds tokens');
    const claimBy = async (signer: typeof warmSigner, who: string) => {
      const c = largeTree.proofFor(who);
      if (!c) throw new Error(`${who} is not in the tree`);
      const cost = await costOf(await mined(d.distributor.connect(signer).claim(taskLarge, 2, c.index, c.amount, c.proof)));
      return { ...cost, proofLength: c.proof.length };
    };
    const claimWarm = await claimBy(warmSigner, warm);
    const claimCold = await claimBy(coldSigner, cold);
    await mined(d.token.transfer(high, unit));
    const claimHigh = await claimBy(highSigner, high);

    // A private round: the same 500-leaf shape keyed by nullifiers, one of them a real member's, whose
    // claim the deployer relays to the warm recipient (already holding the token, like claim_gas_warm).
    const taskPrivate = await warmTask();
    const member = createIdentity();
    const memberNullifier = nullifierOf(member.secret, taskPrivate, 2);
    const privateTree = rewardsTree(randomRewards(o.large, reward, [toBytes32(memberNullifier)], randomNullifier), 'nullifier');
    await commitRound2(taskPrivate, privateTree.root);
    const leaf = privateTree.proofFor(toBytes32(memberNullifier));
    if (!leaf) throw new Error('the member is not in the private tree');
    const proveStarted = performance.now();
    const { proof } = await proveClaim({ secret: member.secret, task: taskPrivate, round: 2, recipient: warm });
    const proveMs = Math.round(performance.now() - proveStarted);
    const claimPrivate = {
      ...(await costOf(await mined(d.distributor.claimPrivate(taskPrivate, 2, memberNullifier, leaf.amount, warm, leaf.proof, proof)))),
      proofLength: leaf.proof.length,
      proveMs,
    };

    const elapsedMs = performance.now() - started;
    note(
      `gas (anvil ${hardfork}): erc20 transfer to an empty account ${toEmpty.gasUsed}, to a holder ${toHolder.gasUsed}; ` +
        `commitRound first round ${firstRound}; round 2 with ${o.small} contributors ${commitSmall.gasUsed} (calldata ${commitSmall.calldata}, execution ${commitSmall.execution}), ` +
        `with ${o.large} ${commitLarge.gasUsed} (calldata ${commitLarge.calldata}, execution ${commitLarge.execution})`,
    );
    note(
      `gas: claim from the ${o.large}-leaf tree (${claimWarm.proofLength}-hash proof): recipient holding the token ${claimWarm.gasUsed} (execution ${claimWarm.execution}), ` +
        `holding none ${claimCold.gasUsed} (execution ${claimCold.execution}, +${claimCold.execution - claimWarm.execution} for the token's fresh balance slot), ` +
        `leaves ${largeTree.proofFor(warm)!.index} and ${largeTree.proofFor(cold)!.index}; leaf ${largeTree.proofFor(high)!.index}, first of its overflow word, to a holder ${claimHigh.gasUsed} ` +
        `(execution ${claimHigh.execution}, +${claimHigh.execution - claimWarm.execution} for the word's fresh slot); ${elapsedMs.toFixed(0)} ms`,
    );
    note(
      `gas: claimPrivate from the ${o.large}-leaf private tree (${claimPrivate.proofLength}-hash proof, Groth16 proved in ${proveMs} ms), relayed to a holder: ` +
        `${claimPrivate.gasUsed} (calldata ${claimPrivate.calldata}, execution ${claimPrivate.execution}, +${claimPrivate.gasUsed - claimWarm.gasUsed} over claim_gas_warm)`,
    );

    const fig = (name: string, value: number, target: string, pass: boolean): Figure => ({
      name,
      value,
      unit: 'gas',
      ratio: value / baseline.value,
      baseline,
      target,
      pass,
    });
    const sameExecution = commitSmall.execution === commitLarge.execution;
    const privateLimit = o.claimPrivateLimit ?? 300_000;
    const figures = [
      fig(`commit_gas_${o.small}`, commitSmall.gasUsed, `value<=${o.commitLimit}gas(execution_excl_calldata=${commitSmall.execution})`, commitSmall.gasUsed <= o.commitLimit),
      fig(
        `commit_gas_${o.large}`,
        commitLarge.gasUsed,
        `value<=${o.commitLimit}gas&&execution_excl_calldata==commit_gas_${o.small}(${commitLarge.execution}${sameExecution ? '==' : '!='}${commitSmall.execution})`,
        commitLarge.gasUsed <= o.commitLimit && sameExecution,
      ),
      fig('claim_gas_warm', claimWarm.gasUsed, `value<=${o.claimLimit}gas`, claimWarm.gasUsed <= o.claimLimit),
      fig('claim_gas_cold', claimCold.gasUsed, `value<=${o.claimLimit}gas`, claimCold.gasUsed <= o.claimLimit),
      fig('claim_gas_overflow_first', claimHigh.gasUsed, `value<=${o.claimLimit}gas`, claimHigh.gasUsed <= o.claimLimit),
      fig('claim_private_gas_warm', claimPrivate.gasUsed, `value<=${privateLimit}gas`, claimPrivate.gasUsed <= privateLimit),
    ];
    return {
      figures,
      diagnostics: {
        erc20TransferToEmpty: toEmpty.gasUsed,
        erc20TransferToHolder: toHolder.gasUsed,
        commitFirstRound: firstRound,
        commit: { [String(o.small)]: commitSmall, [String(o.large)]: commitLarge },
        claim: { warm: claimWarm, cold: claimCold, overflowFirst: claimHigh },
        claimPrivate,
        hardfork,
        elapsedMs: Math.round(elapsedMs),
      },
    };
  } finally {
    provider.destroy();
    await anvil.stop();
    // snarkjs keeps its worker threads alive, which would keep the bench process from exiting.
    await terminateZk();
  }
}
