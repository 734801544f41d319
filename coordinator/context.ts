import type { RedisTarget } from '../protocol/redis-target.ts';
import type { RedisClient } from './infra/redis-connection.ts';
import type { Eip712Domain } from '../protocol/index.ts';
import type { BlobChecker } from './infra/blob-checker.ts';
import type { Logger } from './logger.ts';
import type { ContentStore } from './store/content-store.ts';
import type { RedisKeys } from './store/redis-keys.ts';
import type { RoundRepo } from './store/round-repo.ts';
import type { SecureRepo } from './store/secure-repo.ts';
import type { TaskRepo } from './store/task-repo.ts';
import type { MemberRepo } from './store/member-repo.ts';
import type { MembersTrees } from './members-trees.ts';
import type { UpdateQueue } from './queue/update-queue.ts';

/** What the use-cases need, passed explicitly: no module-level singletons, so tests run many side by side. */
export interface CoordinatorContext {
  /** One Redis or a Redis Cluster (infra/redis-connection.ts). */
  redis: RedisClient;
  /** Where that connection goes, for the extra connections BullMQ and the scheduler open. */
  redisTarget: RedisTarget;
  /** The start of every key: REDIS_PREFIX, or `{REDIS_PREFIX}` on a cluster (protocol/queue-layout.ts keyNamespace). */
  prefix: string;
  keys: RedisKeys;
  tasks: TaskRepo;
  rounds: RoundRepo;
  /** Secure rounds' protocol messages and phases. */
  secure: SecureRepo;
  /** Private tasks' admitted identity commitments, and their Merkle trees. */
  members: MemberRepo;
  membersTrees: MembersTrees;
  store: ContentStore;
  queue: UpdateQueue;
  domain: Eip712Domain;
  /** Hashes and measures delta bytes (on worker threads by default). */
  checker: BlobChecker;
  log: Logger;
  /** Injected clock, so deadline logic is testable without sleeping. */
  now: () => number;
  /** NODE_ENV=production: private tasks refuse the development zero-knowledge keys. */
  production?: boolean;
}
