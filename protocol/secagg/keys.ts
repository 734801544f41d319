import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/**
 * Key agreement of the secure-aggregation protocol (Bonawitz et al. 2017, §4): every client of a
 * round holds two ephemeral X25519 key pairs, one (c) for the channels its Shamir shares travel
 * on and one (s) for its pairwise masks. Every derived key is HKDF-SHA256 of an X25519 shared
 * secret with an `info` string that names the protocol version, chain, task, round and the parties,
 * so no key of one round, pair or purpose is ever the key of another.
 */

/** Where a round runs: keys and signatures of one never serve another. */
export interface SecAggScope {
  chainId: number;
  task: number;
  round: number;
}

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function newKeyPair(): KeyPair {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

export const toHex = (b: Uint8Array): `0x${string}` => `0x${bytesToHex(b)}`;
export const fromHex = (h: string): Uint8Array => hexToBytes(h.startsWith('0x') ? h.slice(2) : h);

type Ecdh = (mySecret: Uint8Array, theirPublic: Uint8Array) => Uint8Array;
const nobleEcdh: Ecdh = (sk, pk) => x25519.getSharedSecret(sk, pk);

/*
 * In Node the X25519 scalar multiplication runs in OpenSSL (node:crypto diffieHellman), about
 * twenty times faster than the JavaScript curve: a client of a 100-client round makes ~400 of them.
 * Both implement RFC 7748 (top bit of u ignored, u reduced mod p) and both refuse an all-zero
 * result (a low-order point); test/unit/secagg.test.ts checks they agree, edge points included.
 * Secret keys are wrapped in the fixed PKCS#8 header of RFC 8410 (id-X25519), public keys as JWK.
 */
let nodeEcdh: Ecdh | null = null;
if (typeof process !== 'undefined' && process.versions?.node) {
  try {
    const { createPrivateKey, createPublicKey, diffieHellman } = await import('node:crypto');
    type KeyObject = ReturnType<typeof createPrivateKey>;
    const PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
    // Loading a private key costs ten ECDHs; a participant's two secret keys are each used for every
    // peer, so the loaded key is kept beside the secret's own bytes (and goes when they go).
    const loaded = new WeakMap<Uint8Array, KeyObject>();
    const privateKeyOf = (sk: Uint8Array) => {
      let k = loaded.get(sk);
      if (!k) {
        const der = new Uint8Array(PKCS8.length + 32);
        der.set(PKCS8);
        der.set(sk, PKCS8.length);
        k = createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
        loaded.set(sk, k);
      }
      return k;
    };
    nodeEcdh = (sk, pk) => {
      if (sk.length !== 32 || pk.length !== 32) throw new RangeError('X25519 keys are 32 bytes');
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(pk).toString('base64url') }, format: 'jwk' });
      return new Uint8Array(diffieHellman({ privateKey: privateKeyOf(sk), publicKey }));
    };
  } catch {
    nodeEcdh = null;
  }
}

/** The X25519 shared secret; throws on a low-order public key. `impl` picks the implementation (tests compare them). */
export function x25519Shared(mySecret: Uint8Array, theirPublic: Uint8Array, impl: 'auto' | 'noble' = 'auto'): Uint8Array {
  return impl === 'auto' && nodeEcdh ? nodeEcdh(mySecret, theirPublic) : nobleEcdh(mySecret, theirPublic);
}

/** True when the bytes are an X25519 public key a shared secret can be made with (not a low-order point). */
export function usablePublicKey(pk: Uint8Array): boolean {
  if (pk.length !== 32) return false;
  try {
    x25519Shared(PROBE_SECRET, pk);
    return true;
  } catch {
    return false;
  }
}
const PROBE_SECRET = new Uint8Array(32).fill(7);

const enc = new TextEncoder();
function derive(mySecret: Uint8Array, theirPublic: Uint8Array, info: string): Uint8Array {
  return hkdf(sha256, x25519Shared(mySecret, theirPublic), undefined, enc.encode(info), 32);
}
const scopeLabel = (s: SecAggScope) => `fl-secagg/v1|chain=${s.chainId}|task=${s.task}|round=${s.round}`;

/**
 * The seed of the mask two clients share. Symmetric: a and b derive the same seed from their own
 * secret and the other's public key; the pair is named in ascending order so both write one string.
 */
export function pairwiseMaskSeed(scope: SecAggScope, mySecret: Uint8Array, theirPublic: Uint8Array, me: string, them: string): Uint8Array {
  const [lo, hi] = me < them ? [me, them] : [them, me];
  return derive(mySecret, theirPublic, `${scopeLabel(scope)}|mask|${lo}|${hi}`);
}

/** Which secret a share belongs to: the self-mask seed, or the secret key of the pairwise masks. */
export type ShareKind = 'self' | 'key';

/**
 * The key that seals the `kind` share a dealer gives a holder. Directional and per kind: revealing
 * it (in the unmasking phase) opens exactly that one share and nothing else, so the reveal can be
 * published and checked by anyone against the dealer's signed ciphertext.
 */
export function shareChannelKey(scope: SecAggScope, mySecret: Uint8Array, theirPublic: Uint8Array, dealer: string, holder: string, kind: ShareKind): Uint8Array {
  return derive(mySecret, theirPublic, `${scopeLabel(scope)}|share|${kind}|${dealer}|${holder}`);
}

/** Associated data of a sealed share: binds the ciphertext to its place in the protocol. */
export function shareAad(scope: SecAggScope, dealer: string, holder: string, kind: ShareKind): Uint8Array {
  return enc.encode(`${scopeLabel(scope)}|share-aad|${kind}|${dealer}|${holder}`);
}
