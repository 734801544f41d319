import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { contentHash, HEX32_RE, type Hex32 } from '../../protocol/index.ts';
import { AppError } from '../errors.ts';
import type { ContentKind, ContentStore } from './content-store.ts';
import { classifyS3Error, createS3Client, describeLocation, normalizePrefix, objectKey, type S3Location } from './s3-bucket.ts';

export interface S3ContentStoreOptions extends S3Location {
  /** A client of one's own (other credentials, a custom handler); default: createS3Client(options). */
  client?: S3Client;
}

/**
 * Content-addressed objects in an S3-compatible bucket: <prefix>/<kind>/<hh>/<hash>, DATA_DIR's
 * layout under a key prefix, so a bucket and a directory are copies of each other.
 *
 * put() asks first (HEAD) and uploads only what is not there yet. An unconditional PUT of the same
 * bytes would also be idempotent and save a round trip per new object, but content is put again
 * routinely (a round close retried after a crash re-archives every accepted update), and each
 * re-upload would move the whole delta again and, in a versioned or object-locked bucket, keep
 * another copy of it for good. A conditional PUT (If-None-Match: *) would do both in one request,
 * but not every S3-compatible server honours it. Two writers that both miss on HEAD upload the same
 * bytes under the same key; a PUT is atomic, so either copy is the whole object.
 */
export function s3ContentStore(opts: S3ContentStoreOptions): ContentStore & { probe(): Promise<void> } {
  const prefix = normalizePrefix(opts.prefix);
  if (prefix === null) throw new AppError('BAD_CONFIG', 500, `S3 key prefix ${JSON.stringify(opts.prefix)} is not slash-separated segments of letters, digits, '.', '_' and '-'`);
  const loc: S3Location = { ...opts, prefix };
  const client = opts.client ?? createS3Client(loc);
  const where = describeLocation(loc);
  const bucket = loc.bucket;

  const keyOf = (kind: ContentKind, hash: string) => {
    // The hash may come from a URL: only a well-formed one may become a key.
    if (!HEX32_RE.test(hash)) throw new AppError('BAD_HASH', 400, `not a 32-byte lowercase hex hash: ${hash}`);
    return objectKey(prefix, kind, hash);
  };
  /** The bucket cannot be used: reached, read or written. The message is for the operator's log. */
  const unavailable = (what: string, e: unknown, reason?: string) =>
    new AppError('STORE_UNAVAILABLE', 503, `content store ${where}: ${what}: ${reason ?? describe(e)}`);
  const describe = (e: unknown) => {
    const c = classifyS3Error(e);
    return c.missing ? 'HTTP 404 NotFound' : c.reason;
  };

  async function exists(key: string): Promise<boolean> {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (e) {
      if (classifyS3Error(e).missing) return false;
      throw unavailable(`HEAD ${key}`, e);
    }
  }

  async function write(kind: ContentKind, hash: string, bytes: Uint8Array): Promise<void> {
    const key = keyOf(kind, hash);
    if (await exists(key)) return;
    try {
      // The SDK sends a CRC32 of the body, which S3 checks before it stores anything.
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'application/octet-stream' }));
    } catch (e) {
      throw unavailable(`PUT ${key}`, e);
    }
  }

  return {
    async put(kind, bytes) {
      const hash = await contentHash(bytes);
      await write(kind, hash, bytes);
      return hash;
    },
    async putHashed(kind, bytes, hash: Hex32) {
      await write(kind, hash, bytes);
    },
    async get(kind, hash) {
      const key = keyOf(kind, hash);
      let bytes: Uint8Array;
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!res.Body) throw new Error('the answer has no body');
        bytes = await res.Body.transformToByteArray();
      } catch (e) {
        if (classifyS3Error(e).missing) return null;
        throw unavailable(`GET ${key}`, e);
      }
      // Whoever else can write to the bucket could have changed the object: its name must still fit.
      if ((await contentHash(bytes)) !== hash) throw new AppError('STORE_CORRUPT', 500, `stored ${kind} ${hash} does not match its hash`);
      return bytes;
    },
    async has(kind, hash) {
      return exists(keyOf(kind, hash));
    },
    /** Start-up check (HeadBucket): the bucket exists and these credentials may use it. */
    async probe() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (e) {
        const c = classifyS3Error(e);
        // HeadBucket's 404 is the bucket's, not an object's.
        throw unavailable('the bucket cannot be used', e, c.missing ? 'no such bucket (HTTP 404)' : c.reason);
      }
    },
  };
}
