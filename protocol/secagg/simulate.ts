import type { HDNodeWallet, Wallet } from 'ethers';
import type { Eip712Domain } from '../eip712.ts';
import { SecAggParticipant } from './participant.ts';
import { signSecAggMessage, type Confirmation, type KeyAdvert, type Reveal, type ShareBundle } from './messages.ts';
import { checkTranscript, recoverSecrets, unmaskSum, type SecureTranscript } from './transcript.ts';
import { zeroWords, addWords, type RingBits, type RingWords } from './ring.ts';

/**
 * A whole secure round in one process, with no coordinator: what the unit tests, the bench and the
 * attack harness use to exercise the protocol's maths on its own. `dropAfterUpload` clients upload
 * and then never confirm or reveal; `dropBeforeReveal` clients confirm the survivor list and then
 * never reveal; `dropBeforeUpload` clients share and then never upload.
 */
export async function simulateSecureRound(opts: {
  domain: Eip712Domain;
  task: number;
  round: number;
  bits: RingBits;
  /** Shares needed per secret (config.ts secureRoundThresholds(...).shares). */
  threshold: number;
  /** Confirmations a client needs before it reveals (secureRoundThresholds(...).survivors); default: threshold. */
  survivorThreshold?: number;
  /** SecAgg+ ring degree (graph.ts); undefined: the complete graph. */
  neighbours?: number;
  wallets: (Wallet | HDNodeWallet)[];
  /** Each client's quantised input, by wallet index. */
  inputs: RingWords[];
  dropBeforeUpload?: number[];
  dropAfterUpload?: number[];
  dropBeforeReveal?: number[];
}): Promise<{ transcript: SecureTranscript; masked: Map<string, RingWords>; sum: RingWords; participants: SecAggParticipant[] }> {
  const scope = { chainId: opts.domain.chainId, task: opts.task, round: opts.round };
  const participants = opts.wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
  const byClient = <T extends { client: string }>(xs: T[]) => xs.sort((a, b) => (a.client < b.client ? -1 : 1));
  const adverts: KeyAdvert[] = byClient(await Promise.all(participants.map((p, i) => signSecAggMessage(opts.wallets[i]!, opts.domain, 'keys', p.advert()))) as KeyAdvert[]);
  const bundles: ShareBundle[] = byClient(
    (await Promise.all(participants.map(async (p, i) => signSecAggMessage(opts.wallets[i]!, opts.domain, 'shares', await p.shareBundle(adverts, opts.threshold, opts.neighbours))))) as ShareBundle[],
  );
  const sharedAdverts = adverts.filter((a) => bundles.some((b) => b.client === a.client));
  const masked = new Map<string, RingWords>();
  participants.forEach((p, i) => {
    if (opts.dropBeforeUpload?.includes(i)) return;
    masked.set(p.address, p.maskInput(opts.inputs[i] as RingWords, opts.bits, sharedAdverts));
  });
  const survivors = [...masked.keys()].sort();
  const answering = participants.map((p, i) => [p, i] as const).filter(([p, i]) => masked.has(p.address) && !opts.dropAfterUpload?.includes(i));
  const survivorThreshold = opts.survivorThreshold ?? opts.threshold;
  const confirmations: Confirmation[] = byClient(
    (await Promise.all(answering.map(([p, i]) => signSecAggMessage(opts.wallets[i]!, opts.domain, 'consistency', p.confirm(survivors, sharedAdverts, opts.threshold))))) as Confirmation[],
  );
  const reveals: Reveal[] = [];
  for (const [p, i] of answering) {
    if (opts.dropBeforeReveal?.includes(i)) continue;
    // As client/secure-round.ts: the first survivorThreshold confirmations are all a client checks.
    const body = p.reveal(survivors, sharedAdverts, opts.threshold, { domain: opts.domain, confirmations: confirmations.slice(0, survivorThreshold), required: survivorThreshold });
    reveals.push((await signSecAggMessage(opts.wallets[i]!, opts.domain, 'reveal', body)) as Reveal);
  }
  const transcript: SecureTranscript = {
    format: 2,
    task: opts.task,
    round: opts.round,
    threshold: opts.threshold,
    ...(opts.neighbours !== undefined ? { neighbours: opts.neighbours } : {}),
    adverts,
    bundles,
    survivors: survivors as `0x${string}`[],
    survivorThreshold,
    confirmations,
    reveals: byClient(reveals),
  };
  const sum = await unmaskTranscript(opts.domain, transcript, opts.bits, (c) => masked.get(c) as RingWords, (opts.inputs[0] as RingWords).length);
  return { transcript, masked, sum, participants };
}

/** Checks a transcript, sums the survivors' masked words and unmasks the sum (the coordinator's and auditor's path, in memory). */
export async function unmaskTranscript(domain: Eip712Domain, transcript: SecureTranscript, bits: RingBits, maskedOf: (client: string) => RingWords, count: number): Promise<RingWords> {
  const checked = checkTranscript(domain, transcript);
  const secrets = await recoverSecrets(domain, checked);
  const sum = zeroWords(bits, count);
  for (const s of checked.survivors) addWords(sum, maskedOf(s));
  unmaskSum(checked, secrets, bits, sum);
  return sum;
}
