import assert from 'node:assert/strict';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { isCallException, keccak256, toUtf8Bytes, type Interface, type JsonRpcProvider, type TransactionReceipt } from 'ethers';
import { startAnvil, type Anvil, type AnvilOptions } from '../../contracts/anvil.ts';
import { buildContracts } from '../../contracts/build.ts';
import { deployContracts, type Deployment } from '../../contracts/deploy.ts';
import { managedSigner, rpcProvider, type ResettingNonceManager } from '../../contracts/provider.ts';

/** One private anvil per test file, with the contracts built (from scratch in a clean clone) and deployed. */
export interface Chain {
  anvil: Anvil;
  provider: JsonRpcProvider;
  /** One signer per anvil dev account; signers[0] deployed everything and holds both roles and the supply. */
  signers: ResettingNonceManager[];
  addresses: string[];
  d: Deployment;
  stop(): Promise<void>;
}

export async function startChain(opts: AnvilOptions = {}): Promise<Chain> {
  await buildContracts({ quiet: true });
  const anvil = await startAnvil(opts);
  try {
    const provider = rpcProvider(anvil.rpcUrl, { chainId: anvil.chainId });
    const signers = anvil.privateKeys.map((k) => managedSigner(k, provider));
    const d = await deployContracts(signers[0]!);
    return {
      anvil,
      provider,
      signers,
      addresses: anvil.accounts.map((a) => a.toLowerCase()),
      d,
      async stop() {
        provider.destroy();
        await anvil.stop();
      },
    };
  } catch (e) {
    await anvil.stop();
    throw e;
  }
}

/** A deterministic 32-byte hash to stand in for checkpoint, manifest and root hashes. */
export const h = (label: string) => keccak256(toUtf8Bytes(label));

/** Sends a transaction and waits for its receipt (throws when it is not mined). */
export async function mined(tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait();
  assert.ok(receipt, 'transaction was mined');
  return receipt;
}

/**
 * Asserts that `action` reverts with the custom error `name` (and, when given, these arguments).
 * ethers decodes errors of the called contract itself (`e.revert`); an error raised one call deeper
 * (the distributor under the registry) arrives as raw data and is decoded here with `interfaces`.
 */
export async function expectRevert(action: Promise<unknown>, interfaces: Interface[], name: string, args?: unknown[]) {
  try {
    await action;
  } catch (e) {
    assert.ok(isCallException(e), `expected a revert with ${name}, got ${String(e)}`);
    let decoded = e.revert ? { name: e.revert.name, args: [...e.revert.args] } : undefined;
    for (const iface of interfaces) {
      if (decoded || !e.data) break;
      const parsed = iface.parseError(e.data);
      if (parsed) decoded = { name: parsed.name, args: [...parsed.args] };
    }
    assert.ok(decoded, `revert data ${e.data} is not a known custom error (expected ${name})`);
    assert.equal(decoded.name, name);
    if (args) assert.deepEqual(normalise(decoded.args), normalise(args));
    return;
  }
  assert.fail(`expected a revert with ${name}, but it succeeded`);
}

/** Compares addresses and hashes case-insensitively and numbers as bigints. */
function normalise(values: unknown[]): unknown[] {
  return values.map((v) => (typeof v === 'string' ? v.toLowerCase() : typeof v === 'number' ? BigInt(v) : v));
}

/**
 * A rewards tree as the coordinator builds it, written here independently of protocol/rewards.ts:
 * OpenZeppelin's StandardMerkleTree of (uint256 index, address account, uint256 amount), the index
 * being the entry's position.
 */
export function rewardsTree(entries: Array<[string, bigint]>) {
  const tree = StandardMerkleTree.of(
    entries.map(([a, amount], i) => [String(i), a, amount.toString()]),
    ['uint256', 'address', 'uint256'],
  );
  const indexOf = (account: string): number => {
    const i = entries.findIndex(([a]) => a.toLowerCase() === account.toLowerCase());
    if (i < 0) throw new Error(`${account} is not in the tree`);
    return i;
  };
  const proofOf = (account: string): string[] => {
    const want = String(indexOf(account));
    for (const [i, [index]] of tree.entries()) if (index === want) return tree.getProof(i);
    throw new Error(`${account} is not in the tree`);
  };
  return { root: tree.root, indexOf, proofOf, tree };
}

/** Random-looking but reproducible addresses for filling large trees. */
export function fillerAddresses(n: number, salt: string): string[] {
  return Array.from({ length: n }, (_, i) => `0x${h(`${salt}:${i}`).slice(26)}`);
}

/** Gas of a transaction's calldata (EIP-2028: 4 per zero byte, 16 per other byte). */
export function calldataGas(data: string): bigint {
  let gas = 0n;
  for (let i = 2; i < data.length; i += 2) gas += data.slice(i, i + 2) === '00' ? 4n : 16n;
  return gas;
}
