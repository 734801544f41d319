import type { z } from 'zod';
import { newKeyPair, pairwiseMaskSeed, shareAad, shareChannelKey, fromHex, toHex, usablePublicKey, type KeyPair, type SecAggScope, type ShareKind } from './keys.ts';
import type { Confirmation, ConfirmationBody, KeyAdvert, KeyAdvertBody, RevealBody, ShareBundleBody } from './messages.ts';
import type { Eip712Domain } from '../eip712.ts';
import { survivorsHash } from './messages.ts';
import { applyMasks, type Mask } from './prg.ts';
import type { RingBits, RingWords } from './ring.ts';
import { holdersOf, maskGraph, type MaskGraph } from './graph.ts';
import { sealShare, selfSeedCommitment, splitSecret, SECRET_BYTES } from './shares.ts';
import { secureRandomBytes } from './fixed-point.ts';
import { SecAggFault } from './faults.ts';
import { checkConfirmations, confirmationHashes } from './transcript.ts';

/**
 * One client's side of a secure round, as pure steps with no I/O (client/secure-round.ts drives it
 * over HTTP). It holds the round's ephemeral secrets in memory only: a client that restarts has
 * lost them and simply counts as dropped, which the protocol tolerates.
 *
 * The rules that protect a client against a lying coordinator live in confirm() and reveal(): it
 * signs one survivor list once, reveals only for that list and only once enough survivors have
 * signed the same list, and for each other client reveals either the key to its self-seed share
 * (a survivor) or the key to its mask-key share (a dropout), never both.
 */
export class SecAggParticipant {
  readonly c: KeyPair = newKeyPair();
  readonly s: KeyPair = newKeyPair();
  readonly selfSeed: Uint8Array = secureRandomBytes(SECRET_BYTES);
  /** The hash of the one survivor list this client signed (confirm), or null before. */
  private confirmed: string | null = null;
  /** The round's graph, fixed by shareBundle from the key advertisers. */
  private graph: MaskGraph | null = null;
  /** The key advertisers this client dealt to, by client (fixed by shareBundle). */
  private advertisers: Map<string, KeyAdvert> | null = null;

  constructor(
    readonly scope: SecAggScope,
    /** The client's lowercase wallet address. */
    readonly address: string,
  ) {}

  advert(): z.infer<typeof KeyAdvertBody> {
    return { task: this.scope.task, round: this.scope.round, client: this.address as `0x${string}`, cPk: toHex(this.c.publicKey), sPk: toHex(this.s.publicKey) };
  }

  /**
   * Shares of both secrets for the holders the round's graph gives this client (graph.ts: every
   * advertiser on the complete graph, else its ring neighbours; itself included), sealed per holder.
   * `neighbours` is the task's setting (undefined: the complete graph).
   */
  async shareBundle(u1: readonly KeyAdvert[], threshold: number, neighbours?: number): Promise<z.infer<typeof ShareBundleBody>> {
    const advertisers = sortedUnique(u1);
    if (!advertisers.some((a) => a.client === this.address)) throw new SecAggFault('NOT_SELECTED', `${this.address} is not among the round's key advertisers`, 'keys');
    this.graph = maskGraph(this.scope, advertisers.map((a) => a.client), neighbours);
    this.advertisers = new Map(advertisers.map((a) => [a.client as string, a]));
    const mine = new Set(holdersOf(this.graph, this.address));
    const holders = advertisers.filter((a) => mine.has(a.client));
    if (threshold > holders.length) throw new SecAggFault('BAD_STATE', `threshold ${threshold} is above the ${holders.length} holders of this client's shares`, 'keys');
    for (const h of holders) {
      if (!usablePublicKey(fromHex(h.cPk)) || !usablePublicKey(fromHex(h.sPk))) throw new SecAggFault('BAD_ADVERT', `${h.client} advertised an unusable public key`, `keys/${h.client}`);
    }
    const selfShares = await splitSecret(this.selfSeed, holders.length, threshold);
    const keyShares = await splitSecret(this.s.secretKey, holders.length, threshold);
    const seal = (kind: ShareKind, share: Uint8Array, to: KeyAdvert) =>
      toHex(sealShare(shareChannelKey(this.scope, this.c.secretKey, fromHex(to.cPk), this.address, to.client, kind), share, shareAad(this.scope, this.address, to.client, kind)));
    return {
      task: this.scope.task,
      round: this.scope.round,
      client: this.address as `0x${string}`,
      selfCommitment: selfSeedCommitment(this.selfSeed),
      shares: holders.map((h, i) => ({ to: h.client, self: seal('self', selfShares[i] as Uint8Array, h), key: seal('key', keyShares[i] as Uint8Array, h) })),
    };
  }

  /**
   * The masked upload: the quantised delta plus the self-mask, plus for every neighbour that shared
   * (u2) the pairwise mask, added when this address sorts first and subtracted otherwise, so each
   * pair's masks cancel in the sum. The input words are not modified.
   */
  maskInput(quantised: RingWords, bits: RingBits, u2: readonly KeyAdvert[]): RingWords {
    const graph = this.dealt();
    const peers = sortedUnique(u2);
    if (!peers.some((a) => a.client === this.address)) throw new SecAggFault('NOT_SELECTED', `${this.address} is not among the clients that shared`, 'shares');
    const masks: Mask[] = [{ seed: this.selfSeed, sign: 1 }];
    for (const p of peers) {
      if (!graph.adjacent(this.address, p.client)) continue;
      masks.push({ seed: pairwiseMaskSeed(this.scope, this.s.secretKey, fromHex(p.sPk), this.address, p.client), sign: this.address < p.client ? 1 : -1 });
    }
    const y = quantised.slice();
    applyMasks(y, bits, masks);
    return y;
  }

  private dealt(): MaskGraph {
    if (!this.graph) throw new SecAggFault('BAD_STATE', 'a client deals its shares (shareBundle) before it masks or reveals', 'shares');
    return this.graph;
  }

  /**
   * The consistency answer: this client's signature-to-be on the survivor list it is shown. Refuses
   * a second, different list (signing two would let a coordinator show each to a different group),
   * a list this client is not on, a list with clients that never shared, and a list shorter than
   * the threshold. The same list may be confirmed again (a retried request).
   */
  confirm(survivors: readonly string[], u2: readonly KeyAdvert[], threshold: number): z.infer<typeof ConfirmationBody> {
    const list = this.checkedList(survivors, u2, threshold);
    const hash = survivorsHash(list);
    if (this.confirmed !== null && this.confirmed !== hash) throw new SecAggFault('SECOND_SURVIVOR_LIST', 'this client already confirmed a different survivor list for the round; it never confirms two', 'survivors');
    this.confirmed = hash;
    // The same two hashes every checker of a confirmation expects (checkConfirmation).
    const hashes = confirmationHashes(this.advertisers as Map<string, KeyAdvert>, list);
    return { task: this.scope.task, round: this.scope.round, client: this.address as `0x${string}`, advertisersHash: hashes.advertisers as `0x${string}`, survivorsHash: hashes.survivors as `0x${string}` };
  }

  /**
   * The unmasking answer to the survivor list this client confirmed, once at least `required`
   * survivors' valid confirmations of that same list are shown (checkConfirmations: one bad or
   * foreign confirmation refuses them all, as the relaying coordinator is then lying). Refuses any
   * other list: the one way a coordinator could collect both secrets of a client.
   */
  reveal(survivors: readonly string[], u2: readonly KeyAdvert[], threshold: number, proof: { domain: Eip712Domain; confirmations: readonly Confirmation[]; required: number }): z.infer<typeof RevealBody> {
    const list = this.checkedList(survivors, u2, threshold);
    const hash = survivorsHash(list);
    if (this.confirmed === null) throw new SecAggFault('BAD_STATE', 'a client confirms the survivor list (confirm) before it reveals', 'survivors');
    if (this.confirmed !== hash) throw new SecAggFault('SECOND_SURVIVOR_LIST', 'this client confirmed a different survivor list for the round; it reveals only for that one', 'survivors');
    const shared = new Map(sortedUnique(u2).map((a) => [a.client as string, a]));
    checkConfirmations(proof.domain, this.scope, this.advertisers as Map<string, KeyAdvert>, list, proof.confirmations, proof.required);
    const graph = this.dealt();
    // Only the dealers whose shares this client holds: its neighbours that shared, and itself.
    const keys = [...shared.values()].filter((d) => d.client === this.address || graph.adjacent(this.address, d.client)).map((d) => {
      const kind: ShareKind = list.includes(d.client) ? 'self' : 'key';
      return { dealer: d.client, kind, key: toHex(shareChannelKey(this.scope, this.c.secretKey, fromHex(d.cPk), d.client, this.address, kind)) };
    });
    return { task: this.scope.task, round: this.scope.round, client: this.address as `0x${string}`, survivorsHash: hash, keys };
  }

  /** A survivor list normalised (lowercase, unique, ascending) and checked against this client's view. */
  private checkedList(survivors: readonly string[], u2: readonly KeyAdvert[], threshold: number): string[] {
    const list = [...new Set(survivors.map((s) => s.toLowerCase()))].sort();
    this.dealt();
    const shared = new Set(u2.map((a) => a.client as string));
    if (!list.includes(this.address)) throw new SecAggFault('NOT_A_SURVIVOR', `${this.address} is not on the survivor list it was asked to answer`, 'survivors');
    const stranger = list.find((s) => !shared.has(s));
    if (stranger) throw new SecAggFault('UNKNOWN_SURVIVOR', `survivor ${stranger} never shared its secrets`, 'survivors');
    if (list.length < threshold) throw new SecAggFault('TOO_FEW_SURVIVORS', `${list.length} survivors, the threshold is ${threshold}`, 'survivors');
    return list;
  }
}

function sortedUnique(list: readonly KeyAdvert[]): KeyAdvert[] {
  const m = new Map<string, KeyAdvert>();
  for (const a of list) if (!m.has(a.client)) m.set(a.client, a);
  return [...m.values()].sort((a, b) => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
}
