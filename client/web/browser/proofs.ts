import { PackedProof } from '../../../protocol/zk/packed-proof.ts';
import { claimInput, claimSignals, membershipInput, membershipSignals, packProof, type CircuitId, type ClaimArgs, type ClaimStatement, type MembershipArgs, type MembershipStatement, type SnarkjsProof } from '../../../protocol/zk/statements.ts';
import type { ProverAsk, ProverReply, ProverRequest } from '../prover-protocol.ts';

export { PackedProof };
export { packProof, unpackProof, type ClaimStatement, type MembershipStatement } from '../../../protocol/zk/statements.ts';

/**
 * The page's stand-in for protocol/zk/proofs.ts: the same functions over the same statements
 * (protocol/zk/statements.ts), with snarkjs running in a Web Worker (client/web/prover-worker.ts)
 * so the page stays responsive while a proof takes seconds. The circuit files come from the
 * coordinator (/join/zk/), which serves the build that its verification keys were made from.
 */

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (r: ProverReply) => void; reject: (e: Error) => void }>();

function proverWorker(): Worker {
  if (!worker) {
    const w = new Worker(new URL('prover-worker.js', location.href), { type: 'module' });
    w.onmessage = (e: MessageEvent<ProverReply>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      if (e.data.error !== undefined) p.reject(new Error(`the proof failed: ${e.data.error}`));
      else p.resolve(e.data);
    };
    w.onerror = (e) => {
      for (const p of pending.values()) p.reject(new Error(`the prover worker failed: ${e.message}`));
      pending.clear();
      worker = undefined;
    };
    worker = w;
  }
  return worker;
}

function ask(req: ProverAsk): Promise<ProverReply> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    const msg: ProverRequest = { ...req, id };
    proverWorker().postMessage(msg);
  });
}

async function prove(circuit: CircuitId, input: Record<string, unknown>): Promise<PackedProof> {
  const r = await ask({ op: 'prove', circuit, input });
  return packProof(r.proof as SnarkjsProof);
}

async function verify(circuit: CircuitId, signals: bigint[], proof: unknown): Promise<boolean> {
  const packed = PackedProof.safeParse(proof);
  if (!packed.success) return false;
  const r = await ask({ op: 'verify', circuit, signals: signals.map(String), proof: packed.data });
  return r.valid === true;
}

export async function proveMembership(args: MembershipArgs): Promise<{ proof: PackedProof; nullifier: bigint }> {
  const { input, nullifier } = membershipInput(args);
  return { proof: await prove('membership', input), nullifier };
}

export const verifyMembership = (s: MembershipStatement, proof: unknown): Promise<boolean> => verify('membership', membershipSignals(s), proof);

export async function proveClaim(args: ClaimArgs): Promise<{ proof: PackedProof; nullifier: bigint }> {
  const { input, nullifier } = claimInput(args);
  return { proof: await prove('claim', input), nullifier };
}

export const verifyClaim = (s: ClaimStatement, proof: unknown): Promise<boolean> => verify('claim', claimSignals(s), proof);

/** Stops the worker (its curve threads go with it). */
export async function terminateZk(): Promise<void> {
  worker?.terminate();
  worker = undefined;
}
