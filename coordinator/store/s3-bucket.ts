import { S3Client } from '@aws-sdk/client-s3';

/**
 * A bucket (and key prefix) of S3-compatible object storage, the client that reaches it, and what its
 * errors mean. Shared by the coordinator's S3 content store (which writes) and fl-audit's bucket
 * source (which only reads), so that both name, reach and judge a bucket the same way.
 */
export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing slash ('' for the bucket's root). */
  prefix: string;
  /** An S3-compatible server (MinIO, Ceph, R2, ...); absent: AWS itself. */
  endpoint?: string;
  /** us-east-1 when absent. */
  region?: string;
  /** Path-style URLs (endpoint/bucket/key), which most self-hosted servers need. */
  forcePathStyle?: boolean;
}

/** S3's rule for bucket names (3-63 characters: lowercase letters, digits, dots and hyphens). */
export const S3_BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * A key prefix without its outer slashes ('fl/' and '/fl' are 'fl'), or null unless it is
 * slash-separated segments of letters, digits, `.`, `_` and `-` with no empty, `.` or `..` segment:
 * keys stay plain paths that mirror DATA_DIR and that `aws s3 sync` copies to a directory as they are.
 */
export function normalizePrefix(prefix: string): string | null {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (p === '') return '';
  return p.split('/').every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..') ? p : null;
}

export const DEFAULT_S3_REGION = 'us-east-1';

/**
 * A client with the SDK's default credential chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
 * AWS_PROFILE and the shared config files, web identity, container and instance roles): nothing
 * here reads a secret itself.
 */
export function createS3Client(loc: S3Location): S3Client {
  return new S3Client({
    region: loc.region ?? DEFAULT_S3_REGION,
    ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
    forcePathStyle: loc.forcePathStyle ?? false,
    // The SDK waits forever for a connection by default: an endpoint that drops packets would hang a
    // round close or an audit instead of failing with a reason. The socket limit only ends a
    // transfer that stalls, never a long one that moves.
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 60_000 },
  });
}

/** "s3://bucket/prefix at http://minio:9000" (or "... at AWS us-east-1"), for messages. */
export function describeLocation(loc: S3Location): string {
  const url = `s3://${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`;
  return `${url} at ${loc.endpoint ?? `AWS ${loc.region ?? DEFAULT_S3_REGION}`}`;
}

/** The object key of content-addressed bytes: <prefix>/<kind>/<first byte in hex>/<0x-hash>, DATA_DIR's layout. */
export function objectKey(prefix: string, kind: string, hash: string): string {
  const rel = `${kind}/${hash.slice(2, 4)}/${hash}`;
  return prefix ? `${prefix}/${rel}` : rel;
}

export type S3Failure = { missing: true } | { missing: false; reason: string };

/**
 * Sorts an error of an object request into "S3 says there is no such object" and everything else
 * (network down, timeout, no credentials, access denied, no such bucket, a 5xx), which means the
 * bucket cannot be used. HEAD answers carry no body, so a HEAD of an object in a bucket that does not
 * exist is a plain 404 too: that is why the store and the source check the bucket itself once first.
 */
export function classifyS3Error(e: unknown): S3Failure {
  const err = e as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err?.$metadata?.httpStatusCode;
  if (err?.name === 'NoSuchKey' || (err?.name === 'NotFound' && status === 404)) return { missing: true };
  return { missing: false, reason: reasonOf(err, status) };
}

function reasonOf(err: { name?: string; code?: string; message?: string } | undefined, status: number | undefined): string {
  if (!err) return String(err);
  // Service answers: "HTTP 403 AccessDenied: Access Denied"; a HEAD's body-less answer has only a
  // status and a generic name ("UnknownError" as its message), so the status says it.
  if (status !== undefined) {
    const bare = !err.message || err.message === 'UnknownError' || err.message === err.name;
    const name = bare && err.name === 'Unknown' ? '' : ` ${err.name ?? 'error'}`;
    const hint = status === 401 || status === 403 ? ' (access denied: check the credentials, e.g. AWS_ACCESS_KEY_ID or AWS_PROFILE, and the bucket policy)' : '';
    return `HTTP ${status}${name}${bare ? '' : `: ${err.message}`}${hint}`;
  }
  // Network and credential errors: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9", "CredentialsProviderError: ...".
  return `${err.code ?? err.name ?? 'Error'}: ${err.message ?? ''}`.trim();
}
