import { x25519 } from '@noble/curves/ed25519.js';
import { z } from 'zod';
import type { Eip712Domain } from '../eip712.ts';
import { Contributor } from '../schemas.ts';
import { SecAggFault } from './faults.ts';
import { fromHex, pairwiseMaskSeed, shareAad, usablePublicKey, type SecAggScope, type ShareKind } from './keys.ts';
import { Confirmation, KeyAdvert, Reveal, secAggDigest, secAggSigner, ShareBundle, survivorsHash } from './messages.ts';
import { hashToField } from '../zk/field.ts';
import { applyMasks, type Mask } from './prg.ts';
import type { RingBits, RingWords } from './ring.ts';
import { holdersOf, maskGraph, type MaskGraph } from './graph.ts';
import { combineShares, openShare, selfSeedCommitment } from './shares.ts';

/**
 * The public record of a secure round, stored content-addressed beside its manifest: every signed
 * protocol message the coordinator accepted, and the survivor list. With the masked uploads it is
 * all anyone needs to recompute the round's sum, and it holds nothing that unmasks one client:
 * survivors' pairwise-mask keys stay sealed, and their self-seeds only remove self-masks.
 *
 * The coordinator and the auditor run the same functions below on it, so "the coordinator's sum"
 * and "the auditor's sum" are one computation over the same bytes.
 */
export const SecureTranscript = z
  .strictObject({
    /** 1: rounds before the consistency phase (no confirmations); 2: with it. */
    format: z.union([z.literal(1), z.literal(2)]),
    task: z.number().int().min(1),
    round: z.number().int().min(1),
    /** Shares needed per secret (config.ts secureRoundThresholds(...).shares of the key advertisers). */
    threshold: z.number().int().min(2).max(255),
    /** The task's SecAgg+ ring degree (graph.ts); absent: the complete graph. */
    neighbours: z.number().int().min(2).max(254).multipleOf(2).optional(),
    /** Phase 1: every key advert accepted, by client. */
    adverts: z.array(KeyAdvert),
    /** Phase 2: every share bundle accepted, by client (these clients are the ones the masks span). */
    bundles: z.array(ShareBundle),
    /** Phase 3: the clients whose masked upload was accepted, ascending. */
    survivors: z.array(Contributor),
    /**
     * Format 2: the fewest confirmations of the survivor list a client reveals after
     * (secureRoundThresholds(...).survivors of the key advertisers), and every confirmation accepted,
     * by client (phase consistency).
     */
    survivorThreshold: z.number().int().min(2).max(1000).optional(),
    confirmations: z.array(Confirmation).optional(),
    /** Phase 4: every reveal accepted, by client. */
    reveals: z.array(Reveal),
  })
  .refine((t) => (t.format === 2) === (t.survivorThreshold !== undefined && t.confirmations !== undefined), {
    message: 'a format-2 transcript has survivorThreshold and confirmations; a format-1 one has neither',
    path: ['format'],
  });
export type SecureTranscript = z.infer<typeof SecureTranscript>;

/** The round's parties as the transcript fixes them, after every structural and signature check. */
export interface CheckedTranscript {
  scope: SecAggScope;
  threshold: number;
  /** Who masks against whom and holds whose shares, over the key advertisers. */
  graph: MaskGraph;
  adverts: Map<string, KeyAdvert>;
  bundles: Map<string, ShareBundle>;
  survivors: string[];
  dropped: string[];
  reveals: Reveal[];
}

const ascending = (xs: readonly string[]) => xs.every((x, i) => i === 0 || (xs[i - 1] as string) < x);

/** Who signs a party's messages: its wallet (public tasks) or the fresh wallet its advert names (private). */
export const advertSigner = (a: KeyAdvert): string => a.signer ?? a.client;

/**
 * Checks an advert on its own (coordinator at arrival, auditor on replay): round, signature and
 * keys. A private advert (client a nullifier) must name its signer and carry a membership proof,
 * whose verification against the round's members root is the caller's (it needs the circuit).
 */
export function checkAdvert(domain: Eip712Domain, scope: SecAggScope, a: KeyAdvert): void {
  const at = `keys/${a.client}`;
  if (a.task !== scope.task || a.round !== scope.round) throw new SecAggFault('WRONG_ROUND', `advert is for ${a.task}/${a.round}, not ${scope.task}/${scope.round}`, at);
  const anonymous = a.client.length === 66;
  if (anonymous && (!a.signer || !a.proof)) throw new SecAggFault('BAD_ADVERT', 'a member named by its nullifier must name its signer and prove its membership', at);
  if (!anonymous && (a.signer || a.proof)) throw new SecAggFault('BAD_ADVERT', 'a wallet signs its own messages: no signer or proof', at);
  if (secAggSigner(domain, 'keys', a) !== advertSigner(a)) throw new SecAggFault('BAD_SIGNATURE', `key advert of ${a.client} is not signed by ${advertSigner(a)}`, at);
  if (a.cPk === a.sPk) throw new SecAggFault('BAD_ADVERT', 'the two public keys must differ', at);
  if (!usablePublicKey(fromHex(a.cPk)) || !usablePublicKey(fromHex(a.sPk))) throw new SecAggFault('BAD_ADVERT', 'a public key is not a usable X25519 point', at);
}

/**
 * Checks a share bundle against the round's advertisers and graph (coordinator at arrival, auditor
 * on replay): one share pair for each holder the graph gives the dealer, in ascending order.
 */
export function checkBundle(domain: Eip712Domain, scope: SecAggScope, adverts: ReadonlyMap<string, KeyAdvert>, graph: MaskGraph, b: ShareBundle): void {
  const at = `shares/${b.client}`;
  if (b.task !== scope.task || b.round !== scope.round) throw new SecAggFault('WRONG_ROUND', `bundle is for ${b.task}/${b.round}, not ${scope.task}/${scope.round}`, at);
  const mine = adverts.get(b.client);
  if (!mine) throw new SecAggFault('NOT_SELECTED', `${b.client} did not advertise keys in this round`, at);
  if (secAggSigner(domain, 'shares', b) !== advertSigner(mine)) throw new SecAggFault('BAD_SIGNATURE', `share bundle of ${b.client} is not signed by ${advertSigner(mine)}`, at);
  const holders = holdersOf(graph, b.client);
  const to = b.shares.map((s) => s.to);
  if (to.length !== holders.length || to.some((t, i) => t !== holders[i])) {
    const whom = graph.degree === null ? `each of the ${holders.length} advertisers` : `the dealer and each of its ${holders.length - 1} ring neighbours`;
    throw new SecAggFault('BAD_SHARES', `a bundle holds one share pair for ${whom}, in ascending order; this one names ${to.length}`, at);
  }
}

/**
 * Checks the confirmations of a survivor list (the client before it reveals, the coordinator at
 * arrival, the auditor on replay): each signed by its client's advertised signer, for this round,
 * from a survivor, on this very list, one per client; and at least `required` of them. Why it
 * matters: an honest client signs one list and reveals only for a list that at least `required`
 * survivors signed, so a coordinator showing two lists (one where a client survived, one where it
 * dropped, to collect both of its secrets) needs 2 * required - n colluding signers over the whole
 * round, not only among the holders of that client's shares (docs/secure-mode.md).
 */
export function checkConfirmations(
  domain: Eip712Domain,
  scope: SecAggScope,
  /** Every key advertiser of the round (not only those that shared), by client. */
  adverts: ReadonlyMap<string, KeyAdvert>,
  survivors: readonly string[],
  confirmations: readonly Confirmation[],
  required: number,
): void {
  const seen = new Set<string>();
  const hashes = confirmationHashes(adverts, survivors);
  for (const c of confirmations) checkConfirmation(domain, scope, adverts, survivors, hashes, c, seen);
  if (seen.size < required) throw new SecAggFault('TOO_FEW_CONFIRMATIONS', `${seen.size} survivors confirmed the survivor list, ${required} are needed before anyone reveals`, 'survivors');
}

/** What a confirmation must sign: the hashes of the advertiser list and of the survivor list. */
export function confirmationHashes(adverts: ReadonlyMap<string, KeyAdvert>, survivors: readonly string[]): { advertisers: string; survivors: string } {
  return { advertisers: survivorsHash([...adverts.keys()].sort()), survivors: survivorsHash(survivors) };
}

/** One confirmation; `seen` collects the confirming clients (a second one from a client is a fault). */
export function checkConfirmation(
  domain: Eip712Domain,
  scope: SecAggScope,
  adverts: ReadonlyMap<string, KeyAdvert>,
  survivors: readonly string[],
  hashes: { advertisers: string; survivors: string },
  c: Confirmation,
  seen?: Set<string>,
): void {
  const at = `consistency/${c.client}`;
  if (c.task !== scope.task || c.round !== scope.round) throw new SecAggFault('WRONG_ROUND', `confirmation is for ${c.task}/${c.round}, not ${scope.task}/${scope.round}`, at);
  if (!survivors.includes(c.client)) throw new SecAggFault('NOT_A_SURVIVOR', `${c.client} is not a survivor of the round`, at);
  const mine = adverts.get(c.client);
  if (!mine || secAggSigner(domain, 'consistency', c) !== advertSigner(mine)) throw new SecAggFault('BAD_SIGNATURE', `confirmation of ${c.client} is not signed by ${mine ? advertSigner(mine) : 'an advertised signer'}`, at);
  if (c.advertisersHash !== hashes.advertisers) throw new SecAggFault('OTHER_ADVERTISERS', `confirmation signs advertiser list ${c.advertisersHash}, not ${hashes.advertisers}`, at);
  if (c.survivorsHash !== hashes.survivors) throw new SecAggFault('OTHER_SURVIVORS', `confirmation signs survivor list ${c.survivorsHash}, not ${hashes.survivors}`, at);
  if (seen?.has(c.client)) throw new SecAggFault('DUPLICATE_CONFIRMATION', `${c.client} confirms twice`, at);
  seen?.add(c.client);
}

export interface RevealVerdict {
  /** Shares this reveal opens, by dealer and kind. */
  opened: { dealer: string; kind: ShareKind; share: Uint8Array }[];
  /** Revealed keys that did not open the dealer's sealed share: refused, counted for nothing. */
  refused: { dealer: string; kind: ShareKind; reason: string }[];
}

/**
 * Checks a reveal and opens the shares it unlocks. Structural faults (not a survivor, another
 * survivor list, a key of the wrong kind, which would be a step towards revealing both secrets of a
 * client) refuse the whole reveal; a key that does not open its sealed share refuses that share only.
 */
export function checkReveal(
  domain: Eip712Domain,
  scope: SecAggScope,
  parties: { adverts: ReadonlyMap<string, KeyAdvert>; bundles: ReadonlyMap<string, ShareBundle>; survivors: readonly string[]; graph: MaskGraph },
  r: Reveal,
): RevealVerdict {
  const at = `reveal/${r.client}`;
  if (r.task !== scope.task || r.round !== scope.round) throw new SecAggFault('WRONG_ROUND', `reveal is for ${r.task}/${r.round}, not ${scope.task}/${scope.round}`, at);
  if (!parties.survivors.includes(r.client)) throw new SecAggFault('NOT_A_SURVIVOR', `${r.client} is not a survivor of the round`, at);
  const mine = parties.adverts.get(r.client);
  if (!mine || secAggSigner(domain, 'reveal', r) !== advertSigner(mine)) throw new SecAggFault('BAD_SIGNATURE', `reveal of ${r.client} is not signed by ${mine ? advertSigner(mine) : 'an advertised signer'}`, at);
  if (r.survivorsHash !== survivorsHash(parties.survivors)) throw new SecAggFault('OTHER_SURVIVORS', `reveal answers survivor list ${r.survivorsHash}, the round's is ${survivorsHash(parties.survivors)}`, at);
  const seen = new Set<string>();
  const verdict: RevealVerdict = { opened: [], refused: [] };
  for (const k of r.keys) {
    if (seen.has(k.dealer)) throw new SecAggFault('DUPLICATE_KEY', `reveal names dealer ${k.dealer} twice`, at);
    seen.add(k.dealer);
    const bundle = parties.bundles.get(k.dealer);
    if (!bundle) throw new SecAggFault('UNKNOWN_DEALER', `reveal names ${k.dealer}, which shared nothing`, at);
    if (k.dealer !== r.client && !parties.graph.adjacent(k.dealer, r.client)) throw new SecAggFault('NOT_A_HOLDER', `reveal names ${k.dealer}, which is not a neighbour of ${r.client} and dealt it no share`, at);
    const want: ShareKind = parties.survivors.includes(k.dealer) ? 'self' : 'key';
    if (k.kind !== want) throw new SecAggFault('WRONG_KIND', `reveal opens the ${k.kind} share of ${k.dealer}, a ${want === 'self' ? 'survivor' : 'dropout'}: only its ${want} share may be revealed`, at);
    const pair = bundle.shares.find((s) => s.to === r.client);
    const sealed = pair ? fromHex(pair[k.kind]) : null;
    const share = sealed ? openShare(fromHex(k.key), sealed, shareAad(scope, k.dealer, r.client, k.kind)) : null;
    if (share) verdict.opened.push({ dealer: k.dealer, kind: k.kind, share });
    else verdict.refused.push({ dealer: k.dealer, kind: k.kind, reason: `the key revealed by ${r.client} does not open the ${k.kind} share ${k.dealer} sealed for it` });
  }
  return verdict;
}

/**
 * Checks the whole transcript's structure and every signature; throws a SecAggFault naming the
 * artefact. Private adverts' membership proofs are checked by the caller (advertProofStatement).
 */
export function checkTranscript(domain: Eip712Domain, t: SecureTranscript): CheckedTranscript {
  const scope: SecAggScope = { chainId: domain.chainId, task: t.task, round: t.round };
  const advertisers = t.adverts.map((a) => a.client);
  if (!ascending(advertisers)) throw new SecAggFault('BAD_TRANSCRIPT', 'adverts are not in ascending client order', 'transcript');
  for (const a of t.adverts) checkAdvert(domain, scope, a);
  const adverts = new Map(t.adverts.map((a) => [a.client as string, a]));
  const graph = maskGraph(scope, advertisers, t.neighbours);
  const bundlers = t.bundles.map((b) => b.client);
  if (!ascending(bundlers)) throw new SecAggFault('BAD_TRANSCRIPT', 'bundles are not in ascending client order', 'transcript');
  for (const b of t.bundles) checkBundle(domain, scope, adverts, graph, b);
  if (!ascending(t.survivors)) throw new SecAggFault('BAD_TRANSCRIPT', 'survivors are not in ascending order', 'survivors');
  const stranger = t.survivors.find((s) => !bundlers.includes(s));
  if (stranger) throw new SecAggFault('UNKNOWN_SURVIVOR', `survivor ${stranger} shared nothing`, 'survivors');
  if (t.survivors.length < t.threshold) throw new SecAggFault('TOO_FEW_SURVIVORS', `${t.survivors.length} survivors, the threshold is ${t.threshold}`, 'survivors');
  let confirmed: string[] | null = null;
  if (t.format === 2) {
    const list = t.confirmations ?? [];
    confirmed = list.map((c) => c.client);
    if (!ascending(confirmed)) throw new SecAggFault('BAD_TRANSCRIPT', 'confirmations are not in ascending client order', 'transcript');
    checkConfirmations(domain, scope, adverts, t.survivors, list, t.survivorThreshold ?? Infinity);
  }
  if (!ascending(t.reveals.map((r) => r.client))) throw new SecAggFault('BAD_TRANSCRIPT', 'reveals are not in ascending client order', 'transcript');
  // An honest client reveals only after confirming the list; a reveal without a confirmation was taken out of turn.
  const unconfirmed = confirmed && t.reveals.find((r) => !(confirmed as string[]).includes(r.client));
  if (unconfirmed) throw new SecAggFault('NOT_CONFIRMED', `${unconfirmed.client} revealed without confirming the survivor list`, `reveal/${unconfirmed.client}`);
  return {
    scope,
    threshold: t.threshold,
    graph,
    adverts,
    bundles: new Map(t.bundles.map((b) => [b.client, b])),
    survivors: [...t.survivors],
    dropped: bundlers.filter((b) => !t.survivors.includes(b)),
    reveals: t.reveals,
  };
}

export interface RecoveredSecrets {
  /** Survivors' self-mask seeds. */
  selfSeeds: Map<string, Uint8Array>;
  /** Dropouts' pairwise-mask secret keys. */
  maskKeys: Map<string, Uint8Array>;
  /** Shares refused while reconstructing, with their reasons (recorded, never fatal on their own). */
  refused: { holder: string; dealer: string; kind: ShareKind; reason: string }[];
}

/**
 * Reconstructs every secret the unmasking needs from the opened shares (holders in ascending order)
 * and checks each against its public commitment: a self-seed against the dealer's selfCommitment,
 * a mask key against the dealer's advertised sPk. Fails, naming the dealer, when fewer than the
 * threshold of shares open or when they do not reconstruct the committed secret.
 */
export async function recoverSecrets(domain: Eip712Domain, t: CheckedTranscript): Promise<RecoveredSecrets> {
  const opened = new Map<string, Uint8Array[]>();
  const refused: RecoveredSecrets['refused'] = [];
  for (const r of t.reveals) {
    const v = checkReveal(domain, t.scope, t, r);
    for (const o of v.opened) {
      const k = `${o.kind}:${o.dealer}`;
      opened.set(k, [...(opened.get(k) ?? []), o.share]);
    }
    for (const f of v.refused) refused.push({ holder: r.client, ...f });
  }
  const rebuild = async (kind: ShareKind, dealer: string): Promise<Uint8Array> => {
    const shares = opened.get(`${kind}:${dealer}`) ?? [];
    const what = kind === 'self' ? 'self-mask seed' : 'mask key';
    if (shares.length < t.threshold) throw new SecAggFault('NOT_ENOUGH_SHARES', `${shares.length} shares of ${dealer}'s ${what} opened, ${t.threshold} are needed`, `shares/${dealer}`);
    let secret: Uint8Array;
    try {
      secret = await combineShares(shares);
    } catch (e) {
      throw new SecAggFault('BAD_DEALER_SHARES', `the shares of ${dealer}'s ${what} do not combine: ${(e as Error).message}`, `shares/${dealer}`);
    }
    const ok = kind === 'self' ? selfSeedCommitment(secret) === t.bundles.get(dealer)?.selfCommitment : x25519.getPublicKey(secret).every((b, i) => b === fromHex(t.adverts.get(dealer)?.sPk ?? '0x')[i]);
    if (!ok) throw new SecAggFault('BAD_DEALER_SHARES', `the shares of ${dealer}'s ${what} do not reconstruct the secret it committed to`, `shares/${dealer}`);
    return secret;
  };
  const selfSeeds = new Map<string, Uint8Array>();
  for (const s of t.survivors) selfSeeds.set(s, await rebuild('self', s));
  const maskKeys = new Map<string, Uint8Array>();
  for (const d of t.dropped) maskKeys.set(d, await rebuild('key', d));
  return { selfSeeds, maskKeys, refused };
}

/**
 * Turns the sum of the survivors' masked uploads into the sum of their quantised deltas, in place:
 * removes each survivor's self-mask, and for each dropout the pairwise masks its surviving
 * neighbours added or subtracted for it (recomputed from the dropout's reconstructed key and the
 * survivor's public key). Masks between two survivors cancelled in the sum already.
 */
export function unmaskSum(t: CheckedTranscript, secrets: RecoveredSecrets, bits: RingBits, sum: RingWords): void {
  applyMasks(sum, bits, unmaskingMasks(t, secrets));
}

/** The masks unmaskSum removes, in a fixed order: survivors' self-masks, then each dropout's pairwise masks. */
export function unmaskingMasks(t: CheckedTranscript, secrets: RecoveredSecrets): Mask[] {
  const masks: Mask[] = t.survivors.map((s) => ({ seed: secrets.selfSeeds.get(s) as Uint8Array, sign: -1 }));
  for (const d of t.dropped) {
    const sk = secrets.maskKeys.get(d) as Uint8Array;
    for (const s of t.survivors) {
      if (!t.graph.adjacent(d, s)) continue;
      // The survivor s added the mask when it sorts before d and subtracted it otherwise: undo that.
      masks.push({ seed: pairwiseMaskSeed(t.scope, sk, fromHex((t.adverts.get(s) as KeyAdvert).sPk), d, s), sign: s < d ? -1 : 1 });
    }
  }
  return masks;
}

/**
 * The public signals a private advert's membership proof must verify with (protocol/zk
 * verifyMembership): the round's members root, the advert's own EIP-712 digest as the bound
 * message, and its client, which is the member's nullifier of the round. So the proof says: some
 * admitted member, with this round's nullifier, speaks through this signer with these keys.
 */
export function advertProofStatement(domain: Eip712Domain, membersRoot: string, a: KeyAdvert) {
  return { membersRoot: BigInt(membersRoot), task: a.task, round: a.round, updateDigest: hashToField(secAggDigest(domain, 'keys', a)), nullifier: BigInt(a.client) };
}
