import { getAddress, type Interface, type JsonRpcProvider, type Log, type TopicFilter } from 'ethers';
import { z } from 'zod';
import { attach, type CheckpointRegistry, type RewardDistributor } from '../../contracts/artifacts.ts';
import { rpcProvider } from '../../contracts/provider.ts';
import type { Hex32 } from '../../protocol/index.ts';

/**
 * Reads what the chain says about one task: its TaskCreated event, every RoundCommitted, Claimed and
 * PrivateClaimed event, and the registry's and distributor's views, all at one pinned block. Event
 * arguments are a trust boundary (an RPC node can send anything), so every decoded event is
 * zod-parsed; a log that does not decode or parse is returned as a problem, not thrown.
 */

/** Setting up failed: the RPC node or the registry cannot be used (the CLI's exit code 2). */
export class AuditSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditSetupError';
  }
}

const Bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'a 32-byte hex value')
  .transform((s) => s.toLowerCase() as Hex32);
const EthAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'a 20-byte hex address')
  .transform((s) => s.toLowerCase());
const U256 = z.bigint().min(0n).max((1n << 256n) - 1n);
/** Round numbers as the manifest allows them (1 .. 2^40), so they fit a JS number exactly. */
const RoundNumber = z
  .bigint()
  .min(1n, 'round 0 is the genesis checkpoint, never committed')
  .max(2n ** 40n, 'round number above 2^40')
  .transform((r) => Number(r));

export const TaskCreatedArgs = z.strictObject({ task: U256, initialCheckpoint: Bytes32 });
export const RoundCommittedArgs = z.strictObject({
  task: U256,
  round: RoundNumber,
  checkpointHash: Bytes32,
  parentHash: Bytes32,
  manifestHash: Bytes32,
  rewardsRoot: Bytes32,
  participationRoot: Bytes32,
  uri: z.string().max(8192),
  reward: U256,
});
export const ClaimedArgs = z.strictObject({ task: U256, round: U256, account: EthAddress, amount: U256 });
/** A private task's claim: the nullifier's leaf paid to `recipient` (which nothing else names: it is private by design). */
export const PrivateClaimedArgs = z.strictObject({ task: U256, round: U256, nullifier: U256, recipient: EthAddress, amount: U256 });

/** Where an event sits on chain. */
export interface LogPosition {
  blockNumber: number;
  logIndex: number;
  txHash: string;
}

export type TaskCreated = z.infer<typeof TaskCreatedArgs> & LogPosition;
export type RoundCommitted = z.infer<typeof RoundCommittedArgs> & LogPosition;
export type Claimed = z.infer<typeof ClaimedArgs> & LogPosition;
export type PrivateClaimed = z.infer<typeof PrivateClaimedArgs> & LogPosition;

/** A log the auditor could not accept (undecodable, or arguments outside their schema). */
export interface LogProblem {
  event: string;
  position: LogPosition;
  /** The round number when it could be read from the log's topics, else null. */
  round: number | null;
  detail: string;
}

export interface ChainHistory {
  chainId: number;
  registry: string;
  distributor: string;
  fromBlock: number;
  toBlock: number;
  taskCreated: TaskCreated[];
  rounds: RoundCommitted[];
  claims: Claimed[];
  /** The distributor's PrivateClaimed events of the task (private rounds, claimed by nullifier). */
  privateClaims: PrivateClaimed[];
  problems: LogProblem[];
  /** The registry's own view of the task at toBlock. */
  head: { exists: boolean; latestCheckpoint: Hex32 | null; lastRound: number | null };
  provider: JsonRpcProvider;
  registryContract: CheckpointRegistry;
  distributorContract: RewardDistributor;
}

export interface ChainOptions {
  rpcUrl: string;
  registry: string;
  task: number;
  fromBlock?: number;
  /** Pin the audit to this block (default: the latest block when the audit starts). */
  toBlock?: number;
  /** At most this many blocks per eth_getLogs call (default: the whole range in one call). */
  blockRange?: number;
  /** Milliseconds to wait for the RPC node's first answer (10,000). */
  connectTimeoutMs?: number;
}

/** eth_chainId over plain fetch with a timeout: ethers would retry an unreachable node forever. */
async function probeChainId(rpcUrl: string, timeoutMs: number): Promise<number> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
    throw new AuditSetupError(`RPC node ${rpcUrl} did not answer: ${cause}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new AuditSetupError(`RPC node ${rpcUrl} answered ${res.status} with non-JSON`);
  }
  const r = z.object({ result: z.string().regex(/^0x[0-9a-fA-F]+$/) }).safeParse(body);
  if (!r.success) throw new AuditSetupError(`RPC node ${rpcUrl} gave no chain id (HTTP ${res.status})`);
  return Number(BigInt(r.data.result));
}

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`).join('; ');
}

/** Plain object of a decoded log's named arguments. */
function argsObject(iface: Interface, log: Log): { name: string; args: Record<string, unknown> } | null {
  let parsed;
  try {
    parsed = iface.parseLog({ topics: [...log.topics], data: log.data });
  } catch {
    return null;
  }
  if (!parsed) return null;
  const args: Record<string, unknown> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name] = parsed.args[i];
  });
  return { name: parsed.name, args };
}

async function getLogs(provider: JsonRpcProvider, address: string, topics: TopicFilter, fromBlock: number, toBlock: number, range: number | undefined): Promise<Log[]> {
  const out: Log[] = [];
  const step = range && range > 0 ? range : Number.MAX_SAFE_INTEGER;
  for (let from = fromBlock; from <= toBlock; from += step) {
    const to = Math.min(toBlock, from + step - 1);
    const logs = await provider.getLogs({ address, topics, fromBlock: from, toBlock: to });
    out.push(...logs);
  }
  return out;
}

function position(log: Log): LogPosition {
  return { blockNumber: log.blockNumber, logIndex: log.index, txHash: log.transactionHash };
}

const byPosition = (a: { blockNumber: number; logIndex: number }, b: { blockNumber: number; logIndex: number }) =>
  a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;

/** Round number from topic 2 (indexed `round`), when it is a sane one; for naming a broken log. */
function roundFromTopics(log: Log): number | null {
  const t = log.topics[2];
  if (!t) return null;
  try {
    const n = BigInt(t);
    return n >= 1n && n <= 2n ** 40n ? Number(n) : null;
  } catch {
    return null;
  }
}

/**
 * Connects, checks that `registry` is a CheckpointRegistry, and reads the task's history. Throws
 * AuditSetupError when the node or the contract cannot be used; everything about the history itself
 * is returned for the auditor to judge. The caller destroys `provider`.
 */
export async function readChainHistory(opts: ChainOptions): Promise<ChainHistory> {
  const chainId = await probeChainId(opts.rpcUrl, opts.connectTimeoutMs ?? 10_000);
  const provider = rpcProvider(opts.rpcUrl, { chainId });
  try {
    if (!/^0x[0-9a-fA-F]{40}$/.test(opts.registry)) throw new AuditSetupError(`registry ${opts.registry} is not an address`);
    const registryAddress = getAddress(opts.registry.toLowerCase());
    const toBlock = opts.toBlock ?? (await provider.getBlockNumber());
    const fromBlock = opts.fromBlock ?? 0;
    if (fromBlock > toBlock) throw new AuditSetupError(`--from-block ${fromBlock} is after the chain's latest block ${toBlock}`);
    if ((await provider.getCode(registryAddress, toBlock)) === '0x') throw new AuditSetupError(`no contract at registry address ${registryAddress} (chain ${chainId}, block ${toBlock})`);

    let registry: CheckpointRegistry;
    try {
      registry = attach('CheckpointRegistry', registryAddress, provider);
    } catch (e) {
      throw new AuditSetupError((e as Error).message);
    }
    let distributorAddress: string;
    try {
      distributorAddress = EthAddress.parse(await registry.distributor({ blockTag: toBlock }));
    } catch (e) {
      throw new AuditSetupError(`${registryAddress} does not answer distributor(): not a CheckpointRegistry? (${(e as Error).message.split('\n')[0]})`);
    }
    const distributor = attach('RewardDistributor', getAddress(distributorAddress), provider);

    const task = BigInt(opts.task);
    const problems: LogProblem[] = [];
    const read = async <T extends z.ZodType>(
      iface: Interface,
      address: string,
      topics: TopicFilter,
      name: string,
      schema: T,
    ): Promise<(z.infer<T> & LogPosition)[]> => {
      const logs = await getLogs(provider, address, topics, fromBlock, toBlock, opts.blockRange);
      const out: (z.infer<T> & LogPosition)[] = [];
      for (const log of logs) {
        const pos = position(log);
        if (log.removed) continue;
        if (log.address.toLowerCase() !== address.toLowerCase()) {
          problems.push({ event: name, position: pos, round: name === 'TaskCreated' ? null : roundFromTopics(log), detail: `${name} log from ${log.address}, not ${address}` });
          continue;
        }
        const decoded = argsObject(iface, log);
        if (!decoded || decoded.name !== name) {
          problems.push({ event: name, position: pos, round: name === 'TaskCreated' ? null : roundFromTopics(log), detail: `log at block ${pos.blockNumber} index ${pos.logIndex} does not decode as ${name}` });
          continue;
        }
        const r = schema.safeParse(decoded.args);
        if (!r.success) {
          problems.push({ event: name, position: pos, round: name === 'TaskCreated' ? null : roundFromTopics(log), detail: `${name} at block ${pos.blockNumber} index ${pos.logIndex}: ${issues(r.error)}` });
          continue;
        }
        const v = r.data as z.infer<T> & { task: bigint };
        if (v.task !== task) {
          problems.push({ event: name, position: pos, round: name === 'TaskCreated' ? null : roundFromTopics(log), detail: `${name} at block ${pos.blockNumber} is for task ${v.task}, asked for ${task}` });
          continue;
        }
        out.push({ ...(r.data as object), ...pos } as z.infer<T> & LogPosition);
      }
      return out.sort(byPosition);
    };

    const [taskCreated, rounds, claims, privateClaims] = await Promise.all([
      read(registry.interface, registryAddress, await registry.filters.TaskCreated(task).getTopicFilter(), 'TaskCreated', TaskCreatedArgs),
      read(registry.interface, registryAddress, await registry.filters.RoundCommitted(task).getTopicFilter(), 'RoundCommitted', RoundCommittedArgs),
      read(distributor.interface, getAddress(distributorAddress), await distributor.filters.Claimed(task).getTopicFilter(), 'Claimed', ClaimedArgs),
      read(distributor.interface, getAddress(distributorAddress), await distributor.filters.PrivateClaimed(task).getTopicFilter(), 'PrivateClaimed', PrivateClaimedArgs),
    ]);

    const exists = await registry.taskExists(task, { blockTag: toBlock });
    const head = exists
      ? {
          exists,
          latestCheckpoint: Bytes32.parse(await registry.latestCheckpoint(task, { blockTag: toBlock })),
          lastRound: Number(await registry.lastRound(task, { blockTag: toBlock })),
        }
      : { exists, latestCheckpoint: null, lastRound: null };

    return {
      chainId,
      registry: registryAddress.toLowerCase(),
      distributor: distributorAddress,
      fromBlock,
      toBlock,
      taskCreated,
      rounds,
      claims,
      privateClaims,
      problems,
      head,
      provider,
      registryContract: registry,
      distributorContract: distributor,
    };
  } catch (e) {
    provider.destroy();
    if (e instanceof AuditSetupError) throw e;
    throw new AuditSetupError(`reading the chain at ${opts.rpcUrl} failed: ${(e as Error).message.split('\n')[0]}`);
  }
}
