import type { RedisClient } from '../infra/redis-connection.ts';
import { z } from 'zod';
import { Task } from '../../protocol/index.ts';
import type { RedisKeys } from './redis-keys.ts';

/** Immutable part of a task, stored once as JSON. */
const TaskDef = Task.omit({ checkpointHash: true, lastRound: true });
export type TaskDef = z.infer<typeof TaskDef>;

export interface TaskRepo {
  nextId(): Promise<number>;
  create(def: TaskDef): Promise<void>;
  get(id: number): Promise<Task | null>;
  list(): Promise<Task[]>;
  openRound(id: number): Promise<number>;
  addClient(id: number, address: string): Promise<boolean>;
  isClient(id: number, address: string): Promise<boolean>;
  clientCount(id: number): Promise<number>;
}

export function taskRepo(redis: RedisClient, keys: RedisKeys): TaskRepo {
  return {
    nextId: () => redis.incr(keys.taskSeq),
    async create(def) {
      await redis
        .multi()
        .hset(keys.task(def.id), { def: JSON.stringify(TaskDef.parse(def)), checkpointHash: def.genesisHash, lastRound: 0, openRound: 0 })
        .sadd(keys.tasks, String(def.id))
        .exec();
    },
    async get(id) {
      const h = await redis.hgetall(keys.task(id));
      if (!h.def) return null;
      // Our own key, but parsed anyway: a corrupted record must fail loudly, not flow on.
      return Task.parse({ ...JSON.parse(h.def), checkpointHash: h.checkpointHash, lastRound: Number(h.lastRound) });
    },
    async list() {
      const ids = (await redis.smembers(keys.tasks)).map(Number).sort((a, b) => a - b);
      const tasks = await Promise.all(ids.map((id) => this.get(id)));
      return tasks.filter((t): t is Task => t !== null);
    },
    async openRound(id) {
      return Number((await redis.hget(keys.task(id), 'openRound')) ?? 0);
    },
    async addClient(id, address) {
      return (await redis.sadd(keys.clients(id), address.toLowerCase())) === 1;
    },
    async isClient(id, address) {
      return (await redis.sismember(keys.clients(id), address.toLowerCase())) === 1;
    },
    clientCount: (id) => redis.scard(keys.clients(id)),
  };
}
