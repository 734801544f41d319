/**
 * The uploading clients of figure 1, in their own process (as real clients are): the coordinator
 * process then hosts only what `npm start` hosts (HTTP API, scheduler, in-process update worker).
 * Driven over the IPC channel by bench/ingest.ts:
 *   init     -> builds the uploader (queueUploader or httpUploader) and a plain ioredis connection
 *   prepare  -> makes, hashes and signs one delta per wallet (untimed), replies 'prepared'
 *   upload   -> uploads every prepared delta, `concurrency` in flight, replies 'uploaded'
 *   set      -> the baseline: SET (same EX) of the same bytes, same concurrency, one connection; replies 'set-done'
 *   exit
 * Run as: node --import tsx bench/upload-child.ts
 */
import { Wallet } from 'ethers';
import { Redis } from 'ioredis';
import { CoordinatorApi } from '../client/coordinator-api.ts';
import { httpUploader } from '../client/upload/http-uploader.ts';
import { queueUploader } from '../client/upload/queue-uploader.ts';
import type { Uploader } from '../client/upload/uploader.ts';
import { BLOB_TTL_SECONDS, type Eip712Domain } from '../protocol/index.ts';
import { clientDelta, prepareUpdate, randomVector, runPool, type PreparedUpdate } from './common.ts';

export type ToChild =
  | { type: 'init'; kind: 'queue' | 'http'; redisUrl: string; prefix: string; coordinatorUrl: string; concurrency: number }
  | { type: 'prepare'; domain: Eip712Domain; task: number; round: number; baseHash: string; privateKeys: string[]; params: number; seed: number; firstClient: number }
  | { type: 'upload' }
  | { type: 'set'; keyBase: string }
  | { type: 'exit' };

export type FromChild =
  | { type: 'ready' }
  | { type: 'prepared'; count: number; bytes: number }
  | { type: 'uploaded'; ms: number }
  | { type: 'set-done'; ms: number }
  | { type: 'error'; message: string };

const send = (m: FromChild): void => {
  process.send!(m);
};

let uploader: Uploader | undefined;
let redis: Redis | undefined;
let concurrency = 1;
let prepared: PreparedUpdate[] = [];

async function handle(m: ToChild): Promise<void> {
  switch (m.type) {
    case 'init':
      concurrency = m.concurrency;
      uploader = m.kind === 'queue' ? queueUploader(m.redisUrl, m.prefix) : httpUploader(new CoordinatorApi(m.coordinatorUrl));
      redis = new Redis(m.redisUrl);
      await redis.ping();
      return send({ type: 'ready' });
    case 'prepare': {
      prepared = [];
      const base = randomVector(m.params, m.seed);
      for (const [k, key] of m.privateKeys.entries()) {
        const delta = clientDelta(base, m.firstClient + k);
        prepared.push(await prepareUpdate(m.domain, new Wallet(key), m.task, m.round, m.baseHash, delta, 100 + m.firstClient + k));
      }
      return send({ type: 'prepared', count: prepared.length, bytes: prepared.reduce((a, p) => a + p.bytes.byteLength, 0) });
    }
    case 'upload': {
      const t0 = performance.now();
      await runPool(prepared, concurrency, async (p) => void (await uploader!.upload(p.meta, p.bytes)));
      return send({ type: 'uploaded', ms: performance.now() - t0 });
    }
    case 'set': {
      const r = redis!;
      const t0 = performance.now();
      await runPool(prepared, concurrency, async (p, i) => {
        await r.set(`${m.keyBase}:${i}`, Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength), 'EX', BLOB_TTL_SECONDS);
      });
      const ms = performance.now() - t0;
      await r.del(...prepared.map((_, i) => `${m.keyBase}:${i}`));
      return send({ type: 'set-done', ms });
    }
    case 'exit':
      await uploader?.close();
      redis?.disconnect();
      process.exit(0);
  }
}

process.on('message', (m: ToChild) => {
  handle(m).catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
});
// The parent owns this process: if it goes away, so do we.
process.on('disconnect', () => process.exit(0));
