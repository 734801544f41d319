import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RoundStateName } from '../protocol/index.ts';
import type { CoordinatorContext } from './context.ts';

/**
 * Prometheus metrics. Events (updates decided, rounds aggregated, commits, proofs checked) are
 * counted by the process they happen in, which is the Prometheus way: run several coordinators or
 * workers and the server sums their series. State (rounds by state, queue depth) lives in Redis and
 * is read at scrape time, so every replica reports the same shared figure for it.
 */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: 'fl_' });

export const metrics = {
  updates: new Counter({
    name: 'fl_updates_total',
    help: 'Updates decided by this process\'s worker, by outcome and (for rejections) reason code',
    labelNames: ['outcome', 'reason'] as const,
    registers: [processRegistry],
  }),
  queueWait: new Histogram({
    name: 'fl_update_queue_wait_seconds',
    help: 'Time an update job waited in the queue before this process\'s worker took it',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [processRegistry],
  }),
  aggregation: new Histogram({
    name: 'fl_aggregation_seconds',
    help: 'Closing a round: aggregation, checkpoint, manifest and archive, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [processRegistry],
  }),
  chainTx: new Histogram({
    name: 'fl_chain_tx_seconds',
    help: 'Chain commit: send to receipt',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120],
    registers: [processRegistry],
  }),
  chainGas: new Counter({ name: 'fl_chain_gas_used_total', help: 'Gas used by this process\'s round commits', registers: [processRegistry] }),
  chainCommits: new Counter({ name: 'fl_chain_commits_total', help: 'Rounds this process committed on chain', registers: [processRegistry] }),
  proofVerify: new Histogram({
    name: 'fl_proof_verification_seconds',
    help: 'Groth16 membership proof verification (private tasks), by result',
    labelNames: ['valid'] as const,
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [processRegistry],
  }),
};

/** Times an async step into a histogram, with labels that may depend on its result. */
export async function timed<T>(h: Histogram<string>, f: () => Promise<T>, labels: (r: T) => Record<string, string> = () => ({})): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  h.observe(labels(r), (performance.now() - t0) / 1000);
  return r;
}

/** Builds the /metrics text: this process's events plus the shared state read from Redis now. */
export async function renderMetrics(ctx: CoordinatorContext): Promise<{ contentType: string; body: string }> {
  const scrape = new Registry();
  const rounds = new Gauge({ name: 'fl_rounds', help: 'Rounds by state, over every task (read from Redis)', labelNames: ['state'] as const, registers: [scrape] });
  const tasks = new Gauge({ name: 'fl_tasks', help: 'Tasks (read from Redis)', registers: [scrape] });
  const depth = new Gauge({ name: 'fl_update_queue_jobs', help: 'Update jobs in the queue by BullMQ state', labelNames: ['state'] as const, registers: [scrape] });

  const all = await ctx.tasks.list();
  tasks.set(all.length);
  const counts = new Map<string, number>(RoundStateName.options.map((s) => [s, 0]));
  // One pipelined HGET per round: the state field of every round hash.
  const pipe = ctx.redis.pipeline();
  for (const t of all) for (let r = 1; r <= t.lastRound; r++) pipe.hget(ctx.keys.round(t.id, r), 'state');
  for (const [err, state] of (await pipe.exec()) ?? []) {
    if (!err && typeof state === 'string' && counts.has(state)) counts.set(state, counts.get(state)! + 1);
  }
  for (const [state, n] of counts) rounds.set({ state }, n);
  const jobs = await ctx.queue.counts();
  for (const [state, n] of Object.entries(jobs)) depth.set({ state }, n);

  const merged = Registry.merge([processRegistry, scrape]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}
