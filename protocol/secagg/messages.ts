import { keccak_256 } from '@noble/hashes/sha3.js';
import { TypedDataEncoder, verifyTypedData, type Signer, type TypedDataDomain } from 'ethers';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json.ts';
import type { Eip712Domain } from '../eip712.ts';
import { Address, Contributor, Hash32, RoundNoNumber, Signature, TaskIdNumber } from '../schemas.ts';
import { PackedProof } from '../zk/packed-proof.ts';
import { toHex } from './keys.ts';
import { SEALED_SHARE_BYTES } from './shares.ts';

/**
 * The four signed messages a client sends in a secure round, besides its masked upload:
 *   1. KeyAdvert    (phase keys):        its two ephemeral X25519 public keys;
 *   2. ShareBundle  (phase shares):      a sealed share of each of its two secrets for every client
 *                                        of the round (itself included), and the commitment to its
 *                                        self-mask seed;
 *   3. Confirmation (phase consistency): its signature on the survivor list it was shown (Bonawitz
 *                                        et al.'s ConsistencyCheck round);
 *   4. Reveal       (phase unmask):      for each survivor, the key that opens the self-seed share it
 *                                        holds; for each client that dropped, the key that opens its
 *                                        mask-key share. Sent only after seeing enough confirmations
 *                                        of that same list.
 * Each is signed by the client's wallet as an EIP-712 SecAggMessage over the keccak256 of the
 * message's canonical JSON (signature left out), so the coordinator, the store and the auditor all
 * check the same bytes, and none of them can alter a message without breaking its signature.
 */

const PublicKeyHex = z.string().regex(/^0x[0-9a-f]{64}$/, 'an 0x-prefixed 32-byte lowercase hex X25519 public key');
const SealedHex = z.string().regex(new RegExp(`^0x[0-9a-f]{${2 * SEALED_SHARE_BYTES}}$`), `an 0x-prefixed ${SEALED_SHARE_BYTES}-byte lowercase hex sealed share`);
const KeyHex = z.string().regex(/^0x[0-9a-f]{64}$/, 'an 0x-prefixed 32-byte lowercase hex key');

/**
 * `client` names the party: its wallet address in a public task; in a private task its nullifier
 * of the round (the name its masked upload and its reward go by), never an address.
 */
const Scoped = { task: TaskIdNumber, round: RoundNoNumber, client: Contributor };

export const KeyAdvertBody = z.strictObject({
  ...Scoped,
  cPk: PublicKeyHex,
  sPk: PublicKeyHex,
  /**
   * Private tasks: the fresh wallet of this round that signs the member's protocol messages. The
   * membership proof binds it (with both public keys) to the nullifier, so no one else can speak
   * for that member, and nothing links it to the member's identity.
   */
  signer: Address.optional(),
});
export const KeyAdvert = KeyAdvertBody.extend({
  signature: Signature,
  /** Private tasks: Groth16 membership proof whose updateDigest is the advert's own EIP-712 digest. */
  proof: PackedProof.optional(),
});
export type KeyAdvert = z.infer<typeof KeyAdvert>;

export const SealedSharePair = z.strictObject({ to: Contributor, self: SealedHex, key: SealedHex });
export const ShareBundleBody = z.strictObject({
  ...Scoped,
  /** keccak256 commitment to the self-mask seed (shares.ts selfSeedCommitment). */
  selfCommitment: Hash32,
  /** One pair of sealed shares per client of the round, in ascending address order. */
  shares: z.array(SealedSharePair).min(1).max(255),
});
export const ShareBundle = ShareBundleBody.extend({ signature: Signature });
export type ShareBundle = z.infer<typeof ShareBundle>;

export const ConfirmationBody = z.strictObject({
  ...Scoped,
  /**
   * keccak256 of the canonical JSON of the round's key advertisers as this client was shown them
   * (survivorsHash of that list): they fix the round's size, graph and thresholds, so confirmers
   * must agree on them too.
   */
  advertisersHash: Hash32,
  /** keccak256 of the canonical JSON of the survivor list this client was shown (survivorsHash). */
  survivorsHash: Hash32,
});
export const Confirmation = ConfirmationBody.extend({ signature: Signature });
export type Confirmation = z.infer<typeof Confirmation>;

export const RevealedKey = z.strictObject({ dealer: Contributor, kind: z.enum(['self', 'key']), key: KeyHex });
export const RevealBody = z.strictObject({
  ...Scoped,
  /** keccak256 of the canonical JSON of the survivor list this reveal answers. */
  survivorsHash: Hash32,
  keys: z.array(RevealedKey).max(255),
});
export const Reveal = RevealBody.extend({ signature: Signature });
export type Reveal = z.infer<typeof Reveal>;

export type SecAggMessageKind = 'keys' | 'shares' | 'consistency' | 'reveal';

export const SECAGG_TYPES = {
  SecAggMessage: [
    { name: 'task', type: 'uint256' },
    { name: 'round', type: 'uint256' },
    { name: 'kind', type: 'string' },
    { name: 'contentHash', type: 'bytes32' },
  ],
};

/** keccak256 of a message's canonical JSON without its signature (and an advert's proof, made over it). */
export function messageContentHash(body: Record<string, unknown>): `0x${string}` {
  const { signature: _signature, proof: _proof, ...rest } = body;
  return toHex(keccak_256(new TextEncoder().encode(canonicalJson(rest))));
}

export async function signSecAggMessage<T extends { task: number; round: number }>(signer: Signer, domain: Eip712Domain, kind: SecAggMessageKind, body: T): Promise<T & { signature: string }> {
  // Signed without the proof (a private advert's proof is made over the signed digest and added after).
  const signature = await signer.signTypedData(domain as TypedDataDomain, SECAGG_TYPES, { task: body.task, round: body.round, kind, contentHash: messageContentHash(body) });
  return { ...body, signature };
}

/** The lowercase address that signed a message, or null when the signature is malformed. */
export function secAggSigner(domain: Eip712Domain, kind: SecAggMessageKind, msg: { task: number; round: number; signature: string }): string | null {
  try {
    return verifyTypedData(domain as TypedDataDomain, SECAGG_TYPES, { task: msg.task, round: msg.round, kind, contentHash: messageContentHash(msg) }, msg.signature).toLowerCase();
  } catch {
    return null;
  }
}

/** The EIP-712 digest of a message: what its signature signs, and what a private advert's proof binds. */
export function secAggDigest(domain: Eip712Domain, kind: SecAggMessageKind, msg: { task: number; round: number }): string {
  return TypedDataEncoder.hash(domain as TypedDataDomain, SECAGG_TYPES, { task: msg.task, round: msg.round, kind, contentHash: messageContentHash(msg) });
}

/** The hash a reveal names its survivor list by. */
export function survivorsHash(survivors: readonly string[]): `0x${string}` {
  return toHex(keccak_256(new TextEncoder().encode(canonicalJson([...survivors]))));
}
