import type { Hex32 } from '../../protocol/index.ts';

/** What a content-addressed store holds; each kind is its own namespace. */
export type ContentKind = 'checkpoints' | 'updates' | 'manifests' | 'transcripts' | 'validation';

/**
 * Bytes addressed by their keccak256. The file store is the single-machine default; the S3 store
 * (s3-content-store.ts), like any other backend, implements the same calls. put() is idempotent:
 * equal bytes, equal key, one copy.
 */
export interface ContentStore {
  put(kind: ContentKind, bytes: Uint8Array): Promise<Hex32>;
  /**
   * Stores bytes under a hash the caller has just computed from these very bytes (on a checker
   * thread, say), without hashing them again. A wrong hash would file bytes under a name they do
   * not have; get() would then refuse them as corrupt.
   */
  putHashed(kind: ContentKind, bytes: Uint8Array, hash: Hex32): Promise<void>;
  /** The bytes, verified against their hash on read; null when absent. */
  get(kind: ContentKind, hash: string): Promise<Uint8Array | null>;
  has(kind: ContentKind, hash: string): Promise<boolean>;
  /**
   * A remote backend's start-up check that it can be used at all (reached, with access), so that a
   * wrong bucket or endpoint stops the coordinator at start rather than at its first round close.
   * Throws AppError STORE_UNAVAILABLE. The file store has none: it creates its folders as it writes.
   */
  probe?(): Promise<void>;
}
