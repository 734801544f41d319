import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { combine, split } from 'shamir-secret-sharing';
import { toHex } from './keys.ts';

/**
 * Shamir sharing of a round's two 32-byte secrets (shamir-secret-sharing: audited, GF(2^8), one
 * polynomial per byte, the share's last byte its x coordinate) and the sealing of each share for
 * its holder (ChaCha20-Poly1305 under a single-use channel key, so the zero nonce is safe).
 */

export const SECRET_BYTES = 32;
/** A share: the 32 polynomial values and the x coordinate. */
export const SHARE_BYTES = SECRET_BYTES + 1;
/** A sealed share: the share and the Poly1305 tag. */
export const SEALED_SHARE_BYTES = SHARE_BYTES + 16;

export async function splitSecret(secret: Uint8Array, holders: number, threshold: number): Promise<Uint8Array[]> {
  if (secret.length !== SECRET_BYTES) throw new RangeError(`a shared secret is ${SECRET_BYTES} bytes`);
  return split(secret, holders, threshold);
}

/**
 * Reconstructs a secret from shares. Interpolation through more points than the threshold gives
 * the same secret when every share is honest; callers check the result against its commitment.
 */
export async function combineShares(shares: Uint8Array[]): Promise<Uint8Array> {
  const xs = new Set(shares.map((s) => s[SHARE_BYTES - 1]));
  if (xs.size !== shares.length) throw new RangeError('two shares have the same x coordinate');
  return combine(shares);
}

export function sealShare(key: Uint8Array, share: Uint8Array, aad: Uint8Array): Uint8Array {
  return chacha20poly1305(key, new Uint8Array(12), aad).encrypt(share);
}

/** The share, or null when the key or associated data does not open the ciphertext. */
export function openShare(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (sealed.length !== SEALED_SHARE_BYTES || key.length !== 32) return null;
  try {
    return chacha20poly1305(key, new Uint8Array(12), aad).decrypt(sealed);
  } catch {
    return null;
  }
}

const SELF_SEED_LABEL = new TextEncoder().encode('fl-secagg/v1/self-seed');
/**
 * The public commitment to a self-mask seed, published with the shares: keccak256(label || seed).
 * The seed is 32 random bytes, so the hash hides it; a reconstruction is accepted only when it
 * hashes to this, so inconsistent shares are caught instead of unmasking with a wrong seed.
 */
export function selfSeedCommitment(seed: Uint8Array): `0x${string}` {
  const h = new Uint8Array(SELF_SEED_LABEL.length + seed.length);
  h.set(SELF_SEED_LABEL);
  h.set(seed, SELF_SEED_LABEL.length);
  return toHex(keccak_256(h));
}
