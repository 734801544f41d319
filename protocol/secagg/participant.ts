import type { z } from 'zod';
import { newKeyPair, pairwiseMaskSeed, shareAad, shareChannelKey, fromHex, toHex, usablePublicKey, type KeyPair, type SecAggScope, type ShareKind } from './keys.ts';
import type { KeyAdvert, KeyAdvertBody, RevealBody, ShareBundleBody } from './messages.ts';
import { survivorsHash } from './messages.ts';
import { maskWords } from './prg.ts';
import { addWords, type RingBits, type RingWords } from './ring.ts';
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

  constructor(
    readonly scope: SecAggScope,
    /** The client's lowercase wallet address. */
    readonly address: string,
  ) {}

  advert(): z.infer<typeof KeyAdvertBody> {
    return { task: this.scope.task, round: this.scope.round, client: this.address as `0x${string}`, cPk: toHex(this.c.publicKey), sPk: toHex(this.s.publicKey) };
  }

  /** Shares of both secrets for every client that advertised keys (self included), sealed per holder. */
  async shareBundle(u1: readonly KeyAdvert[], threshold: number): Promise<z.infer<typeof ShareBundleBody>> {
    const holders = sortedUnique(u1);
    if (!holders.some((a) => a.client === this.address)) throw new SecAggFault('NOT_SELECTED', `${this.address} is not among the round's key advertisers`, 'keys');
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
   * The masked upload: the quantised delta plus the self-mask, plus for every other client that
   * shared (u2) the pairwise mask, added when this address sorts first and subtracted otherwise, so
   * each pair's masks cancel in the sum. The input words are not modified.
   */
  maskInput(quantised: RingWords, bits: RingBits, u2: readonly KeyAdvert[]): RingWords {
    const peers = sortedUnique(u2);
    if (!peers.some((a) => a.client === this.address)) throw new SecAggFault('NOT_SELECTED', `${this.address} is not among the clients that shared`, 'shares');
    const y = quantised.slice();
    addWords(y, maskWords(this.selfSeed, bits, y.length));
    for (const p of peers) {
      if (p.client === this.address) continue;
      const seed = pairwiseMaskSeed(this.scope, this.s.secretKey, fromHex(p.sPk), this.address, p.client);
      addWords(y, maskWords(seed, bits, y.length), this.address < p.client ? 1 : -1);
    }
    return y;
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
    const shared = new Map(sortedUnique(u2).map((a) => [a.client as string, a]));
    if (!list.includes(this.address)) throw new SecAggFault('NOT_A_SURVIVOR', `${this.address} is not on the survivor list it was asked to answer`, 'survivors');
    const stranger = list.find((s) => !shared.has(s));
    if (stranger) throw new SecAggFault('UNKNOWN_SURVIVOR', `survivor ${stranger} never shared its secrets`, 'survivors');
    if (list.length < threshold) throw new SecAggFault('TOO_FEW_SURVIVORS', `${list.length} survivors, the threshold is ${threshold}`, 'survivors');
    this.answered = hash;
    const keys = [...shared.values()].map((d) => {
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
