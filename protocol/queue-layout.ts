/**
 * Where the two sides meet in Redis. A client with Redis access writes its delta under blobKey()
 * (with a TTL) and adds an UpdateJob to the UPDATE_QUEUE; nothing else in Redis is the client's.
 */
export const UPDATE_QUEUE = 'updates';
/** Seconds an uploaded blob lives before the worker claims it. */
export const BLOB_TTL_SECONDS = 3600;

/** BullMQ's key prefix for a deployment prefix (BullMQ adds `:<queue>:...`). */
export const bullPrefix = (prefix: string) => `${prefix}:bull`;

/** The key a client writes its delta to: namespaced by client so equal deltas never collide. */
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
