/**
 * Secure aggregation's cost against plain FedAvg (issue 14): one whole secure round in one process
 * (protocol/secagg/simulate.ts: every client's signed adverts, Shamir shares, masking, the reveals,
 * then the coordinator's transcript checks, reconstruction, sum and unmasking), timed against the
 * real FedAvg strategy folding the same number of float32 updates of the same size.
 *   time_ratio  = secure round (all clients' work and the coordinator's) / plain FedAvg fold
 *   bytes_ratio = bytes one client uploads in a secure round (masked words + its three protocol
 *                 messages as JSON) / the float32 update it would upload in an open task
 */
import { Wallet } from 'ethers';
import { createStrategy, type ClientDelta } from '../coordinator/strategies/index.ts';
import { DEFAULT_DOMAIN, emptyServerState } from '../protocol/index.ts';
import { secureThreshold, simulateSecureRound, zeroWords, type RingWords } from '../protocol/secagg/index.ts';
import { note, randomVector } from './common.ts';

export interface SecureAggResult {
  clients: number;
  params: number;
  secureMs: number;
  foldMs: number;
  timeRatio: number;
  bytesRatio: number;
}

export async function benchSecureAgg(o: { clients: number; params: number }): Promise<SecureAggResult> {
  const noise = randomVector(o.params, 5);
  const deltas: ClientDelta[] = Array.from({ length: o.clients }, (_, k) => ({ id: `0x${k.toString(16).padStart(64, '0')}`, delta: noise.map((v) => v * (1 + k / o.clients)), numSamples: 100 + k }));
  const fedavg = createStrategy({ name: 'fedavg' });
  const base = randomVector(o.params, 7, 0.05);
  const fold = async () => {
    const t = performance.now();
    await fedavg.aggregate({ base, serverState: emptyServerState(), count: deltas.length, async *deltas() { yield* deltas; } });
    return performance.now() - t;
  };
  await fold();
  const foldMs = Math.min(await fold(), await fold());

  const wallets = Array.from({ length: o.clients }, () => Wallet.createRandom());
  const inputs: RingWords[] = deltas.map((d) => {
    const w = zeroWords(16, o.params);
    for (let i = 0; i < o.params; i++) w[i] = Math.round((d.delta[i] as number) * 100);
    return w;
  });
  // Free the float copies before the secure round allocates its own.
  deltas.length = 0;
  const t = performance.now();
  const { transcript } = await simulateSecureRound({ domain: DEFAULT_DOMAIN, task: 1, round: 1, bits: 16, threshold: secureThreshold(o.clients, 0.6), wallets, inputs });
  const secureMs = performance.now() - t;
  const protocolBytes = (JSON.stringify(transcript.adverts).length + JSON.stringify(transcript.bundles).length + JSON.stringify(transcript.reveals).length) / o.clients;
  const bytesRatio = (o.params * 2 + protocolBytes) / (o.params * 4);
  note(`secure_agg: ${o.clients} clients x ${o.params} params: secure round ${secureMs.toFixed(0)} ms (all clients' masking + coordinator's unmasking), FedAvg fold ${foldMs.toFixed(1)} ms; ${protocolBytes.toFixed(0)} protocol bytes per client`);
  return { clients: o.clients, params: o.params, secureMs, foldMs, timeRatio: secureMs / foldMs, bytesRatio };
}
