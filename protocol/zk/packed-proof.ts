import { z } from 'zod';

/**
 * A Groth16 proof on the wire: eight decimal strings in the order the generated Solidity verifiers
 * take them, [a.x, a.y, b.x.c1, b.x.c0, b.y.c1, b.y.c0, c.x, c.y] (snarkjs' G2 coordinates swapped).
 * Kept apart from the prover so schemas can use it without loading snarkjs.
 */
const FieldString = z.string().regex(/^(0|[1-9][0-9]{0,76})$/, 'a decimal field element');
export const PackedProof = z.array(FieldString).length(8);
export type PackedProof = z.infer<typeof PackedProof>;
