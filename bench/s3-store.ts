/**
 * `bench: ingest store=s3`: what the S3 content store adds on the path every accepted update takes
 * into the bucket (the archive at round close: putHashed, a HEAD then a PUT), against raw PutObject
 * of the same number of equally sized objects to the same server (s3rver in this process), in the
 * same run. Hashing is left out of both: the coordinator's checker threads hashed each delta on arrival.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ContentStore } from '../coordinator/store/s3-content-store.ts';
import { contentHash, encodeFloat32, type Hex32 } from '../protocol/index.ts';
import { startDemoBucket } from '../scripts/demo-topology.ts';
import { clientDelta, randomVector, runPool } from './common.ts';

export interface S3StoreBench {
  objects: number;
  bytesEach: number;
  rawMBps: number;
  storeMBps: number;
  ratio: number;
}

export async function benchS3Store(o: { objects: number; params: number; concurrency: number }): Promise<S3StoreBench> {
  const bucket = await startDemoBucket();
  const cfg = bucket.config as Extract<typeof bucket.config, { kind: 's3' }>;
  const client = new S3Client({ endpoint: cfg.endpoint, region: cfg.region, forcePathStyle: true });
  try {
    const base = randomVector(o.params, 3);
    const blobs = Array.from({ length: 2 * o.objects }, (_, k) => encodeFloat32(clientDelta(base, k)));
    const hashes = await Promise.all(blobs.map((b) => contentHash(b)));
    const raw = blobs.slice(0, o.objects);
    const stored = blobs.slice(o.objects);
    const mb = (o.objects * blobs[0]!.byteLength) / 1e6;
    const store = s3ContentStore({ bucket: cfg.bucket, prefix: cfg.prefix, region: cfg.region, forcePathStyle: true, ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}) });
    const rawRun = async (tag: string) => {
      const t = performance.now();
      await runPool(raw, o.concurrency, async (b, i) => {
        await client.send(new PutObjectCommand({ Bucket: cfg.bucket, Key: `raw/${tag}/${i}`, Body: b }));
      });
      return mb / ((performance.now() - t) / 1000);
    };
    // Warm-up of both clients (connections, the SDK's lazy set-up), then raw, store, raw again: the
    // baseline is the better raw run, so a server warming up during the run does not flatter the store.
    await client.send(new PutObjectCommand({ Bucket: cfg.bucket, Key: 'warm', Body: raw[0] }));
    await store.put('updates', new Uint8Array(16));
    const raw1 = await rawRun('a');
    const t = performance.now();
    await runPool(stored, o.concurrency, async (b, i) => store.putHashed('updates', b, hashes[o.objects + i] as Hex32));
    const storeMBps = mb / ((performance.now() - t) / 1000);
    const rawMBps = Math.max(raw1, await rawRun('b'));
    return { objects: o.objects, bytesEach: blobs[0]!.byteLength, rawMBps, storeMBps, ratio: storeMBps / rawMBps };
  } finally {
    client.destroy();
    await bucket.stop();
  }
}
