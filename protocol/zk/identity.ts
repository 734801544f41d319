import { hexlify, keccak256, toUtf8Bytes } from 'ethers';
import { poseidon1, poseidon3 } from 'poseidon-lite';
import { assertField, hashToField } from './field.ts';

/**
 * A private-mode member: a secret and its public identity commitment Poseidon(secret). The
 * coordinator admits the commitment; only the member can prove membership, derive its per-round
 * nullifiers, and claim the rewards behind them.
 */
export interface Identity {
  secret: bigint;
  commitment: bigint;
}

export function identityFromSecret(secret: bigint): Identity {
  assertField(secret, 'identity secret');
  if (secret === 0n) throw new RangeError('identity secret must not be zero');
  return { secret, commitment: poseidon1([secret]) };
}

/** A fresh identity from 31 random bytes (always below the field modulus); Web Crypto, so a page can make one too. */
export function createIdentity(): Identity {
  return identityFromSecret(BigInt(hexlify(globalThis.crypto.getRandomValues(new Uint8Array(31)))) || 1n);
}

/** A reproducible identity from a seed string, for demos and tests only (anyone knowing the seed owns it). */
export function identityFromSeed(seed: string): Identity {
  return identityFromSecret(hashToField(keccak256(toUtf8Bytes(`verifiable-fl identity ${seed}`))) || 1n);
}

/**
 * The member's nullifier for one round of one task: one per member and round (so a second upload is
 * spotted), different in every round (so rounds cannot be linked), and meaningless without the secret.
 */
export function nullifierOf(secret: bigint, task: number | bigint, round: number | bigint): bigint {
  return poseidon3([secret, BigInt(task), BigInt(round)]);
}

/** The identity as stored in a member's key file: decimal strings, never the JSON number type. */
export function serializeIdentity(id: Identity): { secret: string; commitment: string } {
  return { secret: id.secret.toString(), commitment: id.commitment.toString() };
}
