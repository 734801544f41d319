import type { CoordinatorApi } from '../coordinator-api.ts';
import type { ProvenUpdate, SignedUpdate, Uploader } from './uploader.ts';

/** Uploads through the coordinator's REST API, for clients without Redis access. */
export function httpUploader(api: CoordinatorApi): Uploader {
  const put = async (m: { task: number; round: number }, headers: Record<string, string>, delta: Uint8Array) => {
    const r = await api.uploadUpdate(m.task, m.round, headers, delta);
    return { jobId: r.jobId };
  };
  return {
    kind: 'http',
    upload: (m: SignedUpdate, delta: Uint8Array) =>
      put(
        m,
        {
          'x-fl-client': m.client,
          'x-fl-base-hash': m.baseHash,
          'x-fl-update-hash': m.updateHash,
          'x-fl-num-samples': String(m.numSamples),
          'x-fl-signature': m.signature,
        },
        delta,
      ),
    // protocol/schemas.ts HttpPrivateUpdateHeaders: no x-fl-client, no x-fl-signature.
    uploadPrivate: (m: ProvenUpdate, delta: Uint8Array) =>
      put(
        m,
        {
          'x-fl-nullifier': m.nullifier.toLowerCase(),
          'x-fl-base-hash': m.baseHash,
          'x-fl-update-hash': m.updateHash,
          'x-fl-num-samples': String(m.numSamples),
          'x-fl-proof': m.proof.join(','),
        },
        delta,
      ),
    close: async () => {},
  };
}
