/// <reference lib="webworker" />
import * as snarkjs from 'snarkjs';
import { unpackProof } from '../../protocol/zk/statements.ts';
import type { ProverReply, ProverRequest } from './prover-protocol.ts';

/**
 * The page's Groth16 prover, in a Web Worker: snarkjs' fullProve on the circuit files the
 * coordinator serves under /join/zk/ (the same build the CLI proves with). The witness inputs hold
 * the member's secret; they stay in this worker and only the proof goes back to the page.
 */
declare const self: DedicatedWorkerGlobalScope;

const base = new URL('zk/', self.location.href);
const vkeys = new Map<string, Promise<unknown>>();
const vkey = (circuit: string) => {
  let k = vkeys.get(circuit);
  if (!k) {
    k = fetch(new URL(`${circuit}.vkey.json`, base)).then((r) => {
      if (!r.ok) throw new Error(`verification key of ${circuit}: HTTP ${r.status}`);
      return r.json();
    });
    vkeys.set(circuit, k);
  }
  return k;
};

self.onmessage = async (e: MessageEvent<ProverRequest>) => {
  const req = e.data;
  let reply: ProverReply;
  try {
    if (req.op === 'prove') {
      const { proof } = await snarkjs.groth16.fullProve(req.input as never, new URL(`${req.circuit}.wasm`, base).href, new URL(`${req.circuit}.zkey`, base).href);
      reply = { id: req.id, proof };
    } else {
      reply = { id: req.id, valid: (await snarkjs.groth16.verify((await vkey(req.circuit)) as never, req.signals, unpackProof(req.proof) as never)) === true };
    }
  } catch (err) {
    reply = { id: req.id, error: err instanceof Error ? err.message : String(err) };
  }
  self.postMessage(reply);
};
