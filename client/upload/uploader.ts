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

/** One way to hand a delta to the coordinator; both end in the same queue and worker. */
export interface Uploader {
  readonly kind: 'http' | 'queue';
  upload(meta: SignedUpdate, delta: Uint8Array): Promise<{ jobId: string }>;
  close(): Promise<void>;
}
