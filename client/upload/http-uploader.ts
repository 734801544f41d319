import type { CoordinatorApi } from '../coordinator-api.ts';
import type { SignedUpdate, Uploader } from './uploader.ts';

/** Uploads through the coordinator's REST API, for clients without Redis access. */
export function httpUploader(api: CoordinatorApi): Uploader {
  return {
    kind: 'http',
    async upload(m: SignedUpdate, delta: Uint8Array) {
      const r = await api.uploadUpdate(
        m.task,
        m.round,
        {
          'x-fl-client': m.client,
          'x-fl-base-hash': m.baseHash,
          'x-fl-update-hash': m.updateHash,
          'x-fl-num-samples': String(m.numSamples),
          'x-fl-signature': m.signature,
        },
        delta,
      );
      return { jobId: r.jobId };
    },
    close: async () => {},
  };
}
