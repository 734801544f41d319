/**
 * Secure aggregation's cost against plain FedAvg (issue 14). One whole secure round of `clients`
 * clients over `params` parameters in one process, each step timed on its own:
 *   clients     every client's work: signed key advert, Shamir shares, masking, signed reveal;
 *   coordinator the close: transcript checks, secret reconstruction, summing the masked uploads,
 *               removing the masks (protocol/secagg/transcript.ts, what close-round runs);
 * against the real FedAvg strategy folding as many float32 updates of the same size.
 *   time_ratio          = (clients + coordinator) / fold: the issue's figure, all clients' work added up
 *   critical_path_ratio = (slowest single client + coordinator) / fold: the round's wall time when
 *                         the clients run on their own machines, as they do
 *   bytes_ratio         = one client's upload (masked words + its three messages as JSON) / float32 bytes
 */
import { Wallet } from 'ethers';
import { createStrategy, type ClientDelta } from '../coordinator/strategies/index.ts';
import { DEFAULT_DOMAIN, emptyServerState } from '../protocol/index.ts';
import {
  addWords,
  checkTranscript,
  recoverSecrets,
  SecAggParticipant,
  secureRoundThresholds,
  signSecAggMessage,
  unmaskSum,
  zeroWords,
  type Confirmation,
  type KeyAdvert,
  type Reveal,
  type RingWords,
  type SecureTranscript,
  type ShareBundle,
} from '../protocol/secagg/index.ts';
import { note, randomVector } from './common.ts';

export interface SecureAggResult {
  clients: number;
  params: number;
  /** SecAgg+ ring degree, or null for the complete graph. */
  neighbours: number | null;
  clientsMs: number;
  slowestClientMs: number;
  coordinatorMs: number;
  foldMs: number;
  timeRatio: number;
  criticalPathRatio: number;
  bytesRatio: number;
}

export async function benchSecureAgg(o: { clients: number; params: number; neighbours?: number }): Promise<SecureAggResult> {
  const noise = randomVector(o.params, 5);
  let deltas: ClientDelta[] = Array.from({ length: o.clients }, (_, k) => ({ id: `0x${k.toString(16).padStart(64, '0')}`, delta: noise.map((v) => v * (1 + k / o.clients)), numSamples: 100 + k }));
  const fedavg = createStrategy({ name: 'fedavg' });
  const base = randomVector(o.params, 7, 0.05);
  const fold = async () => {
    const t = performance.now();
    await fedavg.aggregate({ base, serverState: emptyServerState(), count: deltas.length, async *deltas() { yield* deltas; } });
    return performance.now() - t;
  };
  await fold();
  const foldMs = Math.min(await fold(), await fold());
  // Client k's quantised delta, made when it masks (untimed): the same values as the float deltas
  // above, and only one client's words live at a time, as on the clients' own machines.
  const inputOf = (k: number): RingWords => {
    const w = zeroWords(16, o.params);
    const f = 1 + k / o.clients;
    for (let i = 0; i < o.params; i++) w[i] = Math.round((noise[i] as number) * f * 100);
    return w;
  };
  deltas = []; // free the float copies before the secure round allocates its own

  const domain = DEFAULT_DOMAIN;
  const scope = { chainId: domain.chainId, task: 1, round: 1 };
  const threshold = secureRoundThresholds({ thresholdFraction: 2 / 3, neighbours: o.neighbours }, o.clients).shares;
  const wallets = Array.from({ length: o.clients }, () => Wallet.createRandom());
  const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
  const perClient = new Array<number>(o.clients).fill(0);
  const timed = async <T>(i: number, f: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const r = await f();
    perClient[i]! += performance.now() - t;
    return r;
  };
  const byClient = <T extends { client: string }>(xs: T[]) => xs.sort((a, b) => (a.client < b.client ? -1 : 1));
  const adverts: KeyAdvert[] = [];
  for (const [i, p] of ps.entries()) adverts.push((await timed(i, () => signSecAggMessage(wallets[i]!, domain, 'keys', p.advert()))) as KeyAdvert);
  byClient(adverts);
  const bundles: ShareBundle[] = [];
  for (const [i, p] of ps.entries()) bundles.push((await timed(i, async () => signSecAggMessage(wallets[i]!, domain, 'shares', await p.shareBundle(adverts, threshold, o.neighbours)))) as ShareBundle);
  byClient(bundles);
  // The coordinator folds each masked upload into the ring sum as it arrives (timed as its work), so
  // no more than one upload is held at a time, as in close-round.
  const sum = zeroWords(16, o.params);
  const expected = zeroWords(16, o.params); // the plain sum, untimed: the bench checks its round is right
  let foldInMs = 0;
  for (const [i, p] of ps.entries()) {
    const x = inputOf(i);
    addWords(expected, x);
    const y = await timed(i, () => p.maskInput(x, 16, adverts));
    const t0 = performance.now();
    addWords(sum, y);
    foldInMs += performance.now() - t0;
  }
  const survivors = ps.map((p) => p.address).sort();
  // The consistency phase: every survivor signs the list; each then checks the `required` first
  // confirmations (what client/secure-round.ts does) before it reveals.
  const required = secureRoundThresholds({ neighbours: o.neighbours, thresholdFraction: 2 / 3 }, o.clients).survivors;
  const confirmations: Confirmation[] = [];
  for (const [i, p] of ps.entries()) confirmations.push((await timed(i, () => signSecAggMessage(wallets[i]!, domain, 'consistency', p.confirm(survivors, adverts, threshold)))) as Confirmation);
  byClient(confirmations);
  const reveals: Reveal[] = [];
  for (const [i, p] of ps.entries()) {
    const body = await timed(i, async () => p.reveal(survivors, adverts, threshold, { domain, confirmations: confirmations.slice(0, required), required }));
    reveals.push((await timed(i, () => signSecAggMessage(wallets[i]!, domain, 'reveal', body))) as Reveal);
  }
  byClient(reveals);

  const t = performance.now();
  const transcript: SecureTranscript = { format: 2, task: 1, round: 1, threshold, ...(o.neighbours !== undefined ? { neighbours: o.neighbours } : {}), adverts, bundles, survivors: survivors as `0x${string}`[], survivorThreshold: required, confirmations, reveals };
  const checked = checkTranscript(domain, transcript);
  const secrets = await recoverSecrets(domain, checked);
  unmaskSum(checked, secrets, 16, sum);
  const coordinatorMs = performance.now() - t + foldInMs;
  if (!sum.every((v, i) => v === expected[i])) throw new Error('secure-agg bench: the unmasked sum is not the plain sum');

  const clientsMs = perClient.reduce((a, b) => a + b, 0);
  const slowestClientMs = Math.max(...perClient);
  const protocolBytes = (JSON.stringify(adverts).length + JSON.stringify(bundles).length + JSON.stringify(confirmations).length + JSON.stringify(reveals).length) / o.clients;
  const bytesRatio = (o.params * 2 + protocolBytes) / (o.params * 4);
  note(`secure_agg: ${o.clients} clients x ${o.params} params, ${o.neighbours ? `ring of degree ${o.neighbours}` : 'complete graph'}: all clients ${clientsMs.toFixed(0)} ms (slowest ${slowestClientMs.toFixed(0)} ms), coordinator close ${coordinatorMs.toFixed(0)} ms; FedAvg fold of ${o.clients} float32 updates ${foldMs.toFixed(1)} ms; ${protocolBytes.toFixed(0)} protocol bytes per client`);
  return { clients: o.clients, params: o.params, neighbours: o.neighbours ?? null, clientsMs, slowestClientMs, coordinatorMs, foldMs, timeRatio: (clientsMs + coordinatorMs) / foldMs, criticalPathRatio: (slowestClientMs + coordinatorMs) / foldMs, bytesRatio };
}
