/**
 * Every coordinator-owned Redis key, in one place. Clients may write only blob keys (see
 * protocol/queue-layout.ts). `prefix` is the key namespace: REDIS_PREFIX, or `{REDIS_PREFIX}` on a
 * Redis Cluster, where that hash tag puts every key below in one slot (test/unit/redis-key-slots.test.ts).
 */
export function redisKeys(prefix: string) {
  return {
    taskSeq: `${prefix}:task:seq`,
    tasks: `${prefix}:tasks`,
    /** Hash: def (immutable task JSON), checkpointHash, lastRound, openRound. */
    task: (task: number) => `${prefix}:task:${task}`,
    clients: (task: number) => `${prefix}:task:${task}:clients`,
    /** String (the challenge's expiresAt), with a TTL: one outstanding registration challenge, deleted on use. */
    registrationChallenge: (task: number, address: string, nonce: string) => `${prefix}:challenge:${task}:${address.toLowerCase()}:${nonce.toLowerCase()}`,
    /** List: a private task's identity commitments in admission order (the members tree's leaves). */
    members: (task: number) => `${prefix}:task:${task}:members`,
    /** Set: the same commitments, so one is never admitted twice. */
    memberSet: (task: number) => `${prefix}:task:${task}:member-set`,
    /** Hash: cfg (immutable round JSON), state, deadlineMs, maxClients, checkpointHash, failureReason, closedAt. */
    round: (task: number, round: number) => `${prefix}:round:${task}:${round}`,
    /** Hash client -> accepted-update JSON: one field per client is what makes "one update per client" atomic. */
    accepted: (task: number, round: number) => `${prefix}:round:${task}:${round}:accepted`,
    /** Async tasks: `<trained-for round>:<sender>` -> `<buffer round>:<job id>`, so a signed update lands in one buffer only. */
    asyncPlaced: (task: number) => `${prefix}:task:${task}:async-placed`,
    /** Hash job id -> rejection JSON: keyed by job so a retried job records its rejection once. */
    rejections: (task: number, round: number) => `${prefix}:round:${task}:${round}:rejections`,
    /** Rejections of payloads too malformed to name a round (capped list). */
    strayRejections: `${prefix}:rejections:stray`,
    /** Set of "task:round" that are open or closing: what the scheduler watches. */
    activeRounds: `${prefix}:rounds:active`,
    /** A blob the worker has taken from the client's key (clients cannot touch it any more). */
    work: (jobId: string) => `${prefix}:work:${jobId}`,
    /**
     * A delta received over HTTP, already hashed and measured by the coordinator, and that verdict
     * (JSON, check-blob.ts encodeVerdict): the worker moves the bytes to its work key, takes the
     * verdict (deleting it) and skips reading and hashing the bytes again. Coordinator-only keys,
     * with the blob TTL.
     */
    checked: (sender: string, updateHash: string) => `${prefix}:checked:${sender.toLowerCase()}:${updateHash.toLowerCase()}`,
    checkedVerdict: (sender: string, updateHash: string) => `${prefix}:checked-verdict:${sender.toLowerCase()}:${updateHash.toLowerCase()}`,
    /** An accepted delta, kept until the round is aggregated and archived. */
    acceptedBlob: (task: number, round: number, client: string) => `${prefix}:acc:${task}:${round}:${client}`,
    closeLock: (task: number, round: number) => `${prefix}:lock:close:${task}:${round}`,
    /** Secure rounds: hash client -> signed protocol message JSON, one hash per phase (keys, shares, reveal). */
    secureMessages: (task: number, round: number, phase: 'keys' | 'shares' | 'consistency' | 'reveal') => `${prefix}:round:${task}:${round}:sa:${phase}`,
    /** One replica at a time moves a secure round from phase to phase. */
    secureLock: (task: number, round: number) => `${prefix}:lock:secure:${task}:${round}`,
    /** Sorted set of "task:round" aggregated but not yet committed on chain (score = round). */
    toCommit: `${prefix}:rounds:to-commit`,
    /** One chain writer at a time across coordinator replicas. */
    chainLock: `${prefix}:lock:chain-writer`,
    /** Hash: task id -> JSON of its on-chain registration (when it was registered and funded). */
    chainTasks: `${prefix}:chain:tasks`,
    /** Hash round -> evaluation JSON (report-repo.ts). */
    evaluations: (task: number) => `${prefix}:task:${task}:evaluations`,
    /** String: the latest audit summary JSON (report-repo.ts). */
    audit: (task: number) => `${prefix}:task:${task}:audit`,
    /** The rate limiter's key prefix for one limit (rate-limit-redis appends the caller's key). */
    rateLimit: (limit: string) => `${prefix}:rl:${limit}:`,
    /** Pub/sub channel the worker pings when a round may be ready to close. */
    roundEvents: `${prefix}:events:rounds`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
