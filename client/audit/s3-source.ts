import { GetObjectCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { HEX32_RE } from '../../protocol/index.ts';
import { classifyS3Error, createS3Client, describeLocation, normalizePrefix, objectKey, S3_BUCKET_RE, type S3Location } from '../../coordinator/store/s3-bucket.ts';
import { SourceUnavailableError, type ContentSource } from './content-source.ts';

/**
 * `s3://bucket[/prefix]`, the bucket URL an auditor is given (prefix: the coordinator's S3_PREFIX).
 * Parsed, not trusted: the bucket must be a bucket name and the prefix plain path segments.
 */
export const BucketUrl = z
  .string()
  .regex(/^s3:\/\//, 'a bucket URL starts with s3://')
  .transform((url, c) => {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = normalizePrefix(slash < 0 ? '' : rest.slice(slash + 1));
    if (!S3_BUCKET_RE.test(bucket)) c.addIssue({ code: 'custom', message: `${bucket || '(empty)'} is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)` });
    if (prefix === null) c.addIssue({ code: 'custom', message: "the key prefix must be slash-separated segments of letters, digits, '.', '_' and '-'" });
    return { bucket, prefix: prefix ?? '' };
  });

export interface BucketSourceOptions {
  /** An S3-compatible server; absent: AWS itself. */
  endpoint?: string;
  /** us-east-1 when absent. */
  region?: string;
  /** Default: path-style exactly when an endpoint is given (what self-hosted servers expect). */
  forcePathStyle?: boolean;
  /** A client of one's own; default: the SDK's default credential chain. */
  client?: S3Client;
}

/**
 * A coordinator's STORE=s3 bucket, read directly: <prefix>/<kind>/<hh>/<hash>, DATA_DIR's layout.
 * Like the other sources it only hands out bytes; fetchVerified re-hashes them. A missing object is
 * found: false (a finding); a bucket that cannot be reached or read is SourceUnavailableError. Like a
 * directory it holds no members lists, so members() answers null.
 */
export function bucketSource(url: string, opts: BucketSourceOptions = {}): ContentSource {
  const parsed = BucketUrl.safeParse(url);
  if (!parsed.success) throw new SourceUnavailableError(`bucket URL ${url}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const loc: S3Location = {
    ...parsed.data,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.region ? { region: opts.region } : {}),
    forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
  };
  const client = opts.client ?? createS3Client(loc);
  const where = describeLocation(loc);
  return {
    description: `bucket ${where}`,
    async members() {
      return null;
    },
    async probe() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: loc.bucket }));
      } catch (e) {
        const c = classifyS3Error(e);
        // HeadBucket's 404 is the bucket's own: nothing of the federation can be there.
        throw new SourceUnavailableError(`bucket ${where} cannot be used: ${c.missing ? 'no such bucket (HTTP 404)' : c.reason}`);
      }
    },
    async fetch(kind, hash) {
      if (!HEX32_RE.test(hash)) return { found: false, detail: 'malformed hash' };
      const key = objectKey(loc.prefix, kind, hash);
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key }));
        if (!res.Body) throw new Error('the answer has no body');
        return { found: true, bytes: await res.Body.transformToByteArray() };
      } catch (e) {
        const c = classifyS3Error(e);
        if (c.missing) return { found: false, detail: `no object s3://${loc.bucket}/${key}` };
        throw new SourceUnavailableError(`bucket ${where}: GET ${key} failed: ${c.reason}`);
      }
    },
  };
}
