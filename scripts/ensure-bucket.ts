/**
 * `node --import tsx scripts/ensure-bucket.ts`: creates the content store's bucket (S3_BUCKET at
 * S3_ENDPOINT, the coordinator's own settings and the AWS SDK's credential chain) unless it exists.
 * The compose stack's one-shot `bucket` service runs it against MinIO; an operator may run it once
 * against any S3-compatible store. Exit 0: the bucket exists (made now or before); 1: it cannot be.
 */
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { parseEnv } from '../coordinator/config.ts';
import { classifyS3Error, createS3Client, describeLocation } from '../coordinator/store/s3-bucket.ts';

try {
  const { store } = parseEnv({ ...process.env, STORE: 's3' });
  if (store?.kind !== 's3') throw new Error('STORE=s3 settings are needed');
  const client = createS3Client(store);
  const where = describeLocation(store);
  try {
    await client.send(new HeadBucketCommand({ Bucket: store.bucket }));
    console.log(`bucket: ${where} exists`);
  } catch (e) {
    const c = classifyS3Error(e);
    if (!c.missing) throw new Error(`${where}: ${c.reason}`);
    await client.send(new CreateBucketCommand({ Bucket: store.bucket }));
    console.log(`bucket: created ${where}`);
  } finally {
    client.destroy();
  }
} catch (e) {
  console.error(`bucket: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
