/** End-of-test checks against the chain: which rounds were committed, and an outsider's audit. */
import assert from 'node:assert/strict';
import { auditTask, coordinatorSource } from '../../client/audit/index.ts';
import type { Chain } from '../contracts/chain.ts';

/** Round numbers committed on chain for `task`, in event order. */
export async function commitsOf(chain: Chain, task: number): Promise<number[]> {
  const events = await chain.d.registry.queryFilter(chain.d.registry.filters.RoundCommitted(), chain.d.blockNumber);
  return events.filter((e) => Number(e.args[0]) === task).map((e) => Number(e.args[1]));
}

/** `fl-audit --reaggregate` as a library call over the whole task; fails naming the first findings. */
export async function expectAudited(chain: Chain, coordinatorUrl: string, task: number) {
  const report = await auditTask({ rpcUrl: chain.anvil.rpcUrl, registry: chain.d.addresses.registry, task, source: coordinatorSource(coordinatorUrl), reaggregate: true, fromBlock: chain.d.blockNumber });
  assert.equal(report.pass, true, JSON.stringify(report.findings.slice(0, 5)));
}
