/**
 * Where the two sides meet in Redis. A client with Redis access writes its delta under blobKey()
 * (with a TTL) and adds an UpdateJob to the UPDATE_QUEUE; nothing else in Redis is the client's.
 */
export const UPDATE_QUEUE = 'updates';
/** Seconds an uploaded blob lives before the worker claims it. */
export const BLOB_TTL_SECONDS = 3600;

/**
 * The start of every Redis key of a deployment, given its REDIS_PREFIX. On a Redis Cluster the
 * prefix becomes a hash tag, `{fl}`: Redis then hashes only `fl`, so every key of the deployment
 * (the coordinator's, BullMQ's and the clients' blob keys) lands in one slot, which is what lets
 * BullMQ's scripts and ours touch several keys at once (a cluster refuses a script or MULTI whose
 * keys span slots). A single Redis keeps the bare prefix, so existing deployments keep their keys.
 * Both sides must agree: a client uploading to a cluster deployment must connect as a cluster too.
 */
export const keyNamespace = (prefix: string, cluster: boolean) => (cluster ? `{${prefix}}` : prefix);

/** BullMQ's key prefix for a deployment's key namespace (BullMQ adds `:<queue>:...`). */
export const bullPrefix = (prefix: string) => `${prefix}:bull`;

/** The key a client writes its delta to (under the key namespace): namespaced by client so equal deltas never collide. */
export const blobKey = (prefix: string, client: string, updateHash: string) => `${prefix}:blob:${client.toLowerCase()}:${updateHash.toLowerCase()}`;

/**
 * Options every producer gives an update job: transient failures (a Redis hiccup) are retried with
 * backoff; the worker marks refusals unrecoverable, so they are never retried.
 */
export const UPDATE_JOB_OPTIONS = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: { age: 24 * 3600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;
