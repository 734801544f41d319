import type { PackedProof } from '../../protocol/index.ts';

/** Signed metadata of one update, as both upload paths carry it. */
export interface SignedUpdate {
  task: number;
  round: number;
  client: string;
  baseHash: string;
  updateHash: string;
  numSamples: number;
  signature: string;
}

/**
 * Metadata of one update of a private task: no address and no signature, but the update's
 * nullifier (an 0x-prefixed 32-byte word) and the Groth16 membership proof that binds it to this
 * exact update (protocol/zk proveMembership).
 */
export interface ProvenUpdate {
  task: number;
  round: number;
  nullifier: string;
  baseHash: string;
  updateHash: string;
  numSamples: number;
  proof: PackedProof;
}

/** One way to hand a delta to the coordinator; both end in the same queue and worker. */
export interface Uploader {
  readonly kind: 'http' | 'queue';
  upload(meta: SignedUpdate, delta: Uint8Array): Promise<{ jobId: string }>;
  /** A private task's upload: the nullifier and proof stand in for the address and signature. */
  uploadPrivate(meta: ProvenUpdate, delta: Uint8Array): Promise<{ jobId: string }>;
  close(): Promise<void>;
}
