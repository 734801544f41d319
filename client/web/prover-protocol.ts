import type { CircuitId } from '../../protocol/zk/statements.ts';

/** Messages between the page and its prover worker (client/web/prover-worker.ts). */
export type ProverAsk = { op: 'prove'; circuit: CircuitId; input: Record<string, unknown> } | { op: 'verify'; circuit: CircuitId; signals: string[]; proof: string[] };
export type ProverRequest = ProverAsk & { id: number };

export interface ProverReply {
  id: number;
  /** op 'prove': snarkjs' proof object. */
  proof?: unknown;
  /** op 'verify'. */
  valid?: boolean;
  error?: string;
}
