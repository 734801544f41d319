import type { ContentStoreConfig } from '../config.ts';
import type { ContentStore } from './content-store.ts';
import { fsContentStore } from './fs-content-store.ts';
import { s3ContentStore } from './s3-content-store.ts';

/** The configured content store: the file store under dataDir unless STORE=s3 chose a bucket. */
export function openContentStore(store: ContentStoreConfig | undefined, dataDir: string): ContentStore {
  if (store?.kind !== 's3') return fsContentStore(dataDir);
  return s3ContentStore({
    bucket: store.bucket,
    prefix: store.prefix,
    region: store.region,
    forcePathStyle: store.forcePathStyle,
    ...(store.endpoint ? { endpoint: store.endpoint } : {}),
  });
}
