import type { z } from 'zod';
import { newKeyPair, pairwiseMaskSeed, shareAad, shareChannelKey, fromHex, toHex, usablePublicKey, type KeyPair, type SecAggScope, type ShareKind } from './keys.ts';
import type { KeyAdvert, KeyAdvertBody, RevealBody, ShareBundleBody } from './messages.ts';
import { survivorsHash } from './messages.ts';
import { applyMasks, type Mask } from './prg.ts';
import type { RingBits, RingWords } from './ring.ts';
import { holdersOf, maskGraph, type MaskGraph } from './graph.ts';
import { sealShare, selfSeedCommitment, splitSecret, SECRET_BYTES } from './shares.ts';
import { secureRandomBytes } from './fixed-point.ts';
import { SecAggFault } from './faults.ts';

/**
 * One client's side of a secure round, as pure steps with no I/O (client/secure-round.ts drives it
 * over HTTP). It holds the round's ephemeral secrets in memory only: a client that restarts has
 * lost them and simply counts as dropped, which the protocol tolerates.
 *
 * The rule that protects a client against a lying coordinator lives in reveal(): it answers one
 * survivor list once, and for each other client reveals either the key to its self-seed share
 * (a survivor) or the key to its mask-key share (a dropout), never both.
 */
export class SecAggParticipant {
  readonly c: KeyPair = newKeyPair();
  readonly s: KeyPair = newKeyPair();
  readonly selfSeed: Uint8Array = secureRandomBytes(SECRET_BYTES);
  private answered: string | null = null;
  /** The round's graph, fixed by shareBundle from the key advertisers. */
  private graph: MaskGraph | null = null;

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
   * The unmasking answer to one survivor list. Refuses a second, different list (the one way a
   * coordinator could collect both secrets of a client), a list this client is not on, a list with
   * clients that never shared, and a list shorter than the threshold.
   */
  reveal(survivors: readonly string[], u2: readonly KeyAdvert[], threshold: number): z.infer<typeof RevealBody> {
    const list = [...new Set(survivors.map((s) => s.toLowerCase()))].sort();
    const hash = survivorsHash(list);
    if (this.answered !== null && this.answered !== hash) throw new SecAggFault('SECOND_SURVIVOR_LIST', 'this client already answered a different survivor list for the round; it never reveals twice', 'survivors');
    const graph = this.dealt();
    const shared = new Map(sortedUnique(u2).map((a) => [a.client as string, a]));
    if (!list.includes(this.address)) throw new SecAggFault('NOT_A_SURVIVOR', `${this.address} is not on the survivor list it was asked to answer`, 'survivors');
    const stranger = list.find((s) => !shared.has(s));
    if (stranger) throw new SecAggFault('UNKNOWN_SURVIVOR', `survivor ${stranger} never shared its secrets`, 'survivors');
    if (list.length < threshold) throw new SecAggFault('TOO_FEW_SURVIVORS', `${list.length} survivors, the threshold is ${threshold}`, 'survivors');
    this.answered = hash;
    // Only the dealers whose shares this client holds: its neighbours that shared, and itself.
    const keys = [...shared.values()].filter((d) => d.client === this.address || graph.adjacent(this.address, d.client)).map((d) => {
      const kind: ShareKind = list.includes(d.client) ? 'self' : 'key';
      return { dealer: d.client, kind, key: toHex(shareChannelKey(this.scope, this.c.secretKey, fromHex(d.cPk), d.client, this.address, kind)) };
    });
    return { task: this.scope.task, round: this.scope.round, client: this.address as `0x${string}`, survivorsHash: hash, keys };
  }
}

function sortedUnique(list: readonly KeyAdvert[]): KeyAdvert[] {
  const m = new Map<string, KeyAdvert>();
  for (const a of list) if (!m.has(a.client)) m.set(a.client, a);
  return [...m.values()].sort((a, b) => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
}
