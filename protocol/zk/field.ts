/**
 * The BN254 scalar field every circuit signal lives in, and the maps from the project's 32-byte
 * values into it.
 */
export const SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/**
 * A 32-byte hash as a field element: drop its low byte. Shifting (instead of reducing mod p) keeps
 * the map a plain bit truncation that Solidity and any other tool reproduce with `>> 8`, and 248
 * bits still leave collisions out of reach.
 */
export function hashToField(hex32: string): bigint {
  return BigInt(hex32) >> 8n;
}

/** A field element (or any uint256) as an 0x-prefixed 32-byte hex word, e.g. a root for bytes32. */
export function toBytes32(value: bigint): `0x${string}` {
  if (value < 0n || value >= 1n << 256n) throw new RangeError(`not a uint256: ${value}`);
  return `0x${value.toString(16).padStart(64, '0')}`;
}

export function assertField(value: bigint, what: string): bigint {
  if (value < 0n || value >= SNARK_FIELD) throw new RangeError(`${what} is not a BN254 field element`);
  return value;
}
