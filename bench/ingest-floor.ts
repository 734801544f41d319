/**
 * The floor under figure 1: how fast could any coordinator ingest through a Redis-held blob on this
 * machine, doing only what the rules cannot skip? Two bare pipelines, no BullMQ, no
 * signature, no round state, over the same bytes, concurrency and connection layout as figure 1:
 *   transfer: client SET of the blob, then the worker's GET of it (the queue path's two transfers);
 *   checked:  client SET, then the GET, keccak256 and norm on the product's own checker threads
 *             (each reads the blob on its own connection and hashes the reply in place, as the
 *             coordinator's do) and the recovery of the update's EIP-712 signer (what authenticates a
 *             public upload).
 * Each is a ratio to raw SET of the same bytes; the ingestion figures can then be read against what
 * the hardware leaves. Runs in the bench process (the checker threads are the coordinator's).
 */
import { Redis } from 'ioredis';
import { Wallet } from 'ethers';
import { createBlobChecker, defaultCheckThreads } from '../coordinator/infra/blob-checker.ts';
import { BLOB_TTL_SECONDS, contentHash, encodeFloat32, recoverUpdateSigner, signUpdate, weightManifest } from '../protocol/index.ts';
import { clientDelta, MODEL_1M, note, randomVector, runPool } from './common.ts';

export interface FloorOptions {
  redisUrl: string;
  prefix: string;
  n: number;
  concurrency: number;
}

export interface FloorResult {
  megabytes: number;
  setMBps: number[];
  transferMBps: number[];
  checkedMBps: number[];
}

/** One floor, opened once: each call is one timed run over all N blobs, in MB/s. */
export interface IngestFloor {
  megabytes: number;
  set(): Promise<number>;
  transfer(): Promise<number>;
  checked(): Promise<number>;
  close(): Promise<void>;
}

const MB = 1e6;

export async function openIngestFloor(o: FloorOptions): Promise<IngestFloor> {
  const size = weightManifest(MODEL_1M).size;
  const base = randomVector(size, 21);
  const blobs = Array.from({ length: o.n }, (_, k) => {
    const b = encodeFloat32(clientDelta(base, k));
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  });
  const megabytes = blobs.reduce((s, b) => s + b.byteLength, 0) / MB;
  // Signed by the "clients" before the clock starts, as in figure 1; the floor pays only the recovery.
  const domain = { name: 'VerifiableFL', version: '1', chainId: 31337 };
  const signer = new Wallet('0x' + '11'.repeat(32));
  const signed = await Promise.all(
    blobs.map(async (b, k) => {
      const msg = { task: 1, round: 1, baseHash: '0x' + '00'.repeat(32), updateHash: await contentHash(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)), numSamples: 10 + k };
      return { msg, signature: await signUpdate(signer, domain, msg) };
    }),
  );
  // One connection plays the clients, another the worker, as in figure 1.
  const client = new Redis(o.redisUrl);
  const worker = new Redis(o.redisUrl);
  // As the coordinator's: its threads read each blob from Redis on connections of their own and
  // hash the reply where it lies, the cheapest way this code knows to do the mandatory work.
  const checker = createBlobChecker(process.env.CHECK_THREADS ? Number(process.env.CHECK_THREADS) : defaultCheckThreads(), { client: worker, target: { kind: 'single', url: o.redisUrl } });
  let runs = 0;
  const key = (run: number, i: number) => `${o.prefix}:floor:${run}:${i}`;
  // Each run's keys are deleted (untimed) before the next: runs of 160 MB would otherwise pile up in Redis.
  const timed = async (f: (run: number) => Promise<void>) => {
    const run = runs++;
    const t = performance.now();
    await f(run);
    const mbps = megabytes / ((performance.now() - t) / 1000);
    await client.del(...blobs.map((_, i) => key(run, i)));
    return mbps;
  };
  const close = async () => {
    await checker.close();
    client.disconnect();
    worker.disconnect();
  };
  try {
    // Warm-up: JIT, the checker threads' keccak instances, Redis allocations of this size.
    const warm = runs++;
    await runPool(blobs.slice(0, 4), o.concurrency, async (b, i) => {
      await client.set(key(warm, i), b, 'EX', BLOB_TTL_SECONDS);
      await checker.check({ redisKey: key(warm, i) });
    });
    await client.del(...blobs.slice(0, 4).map((_, i) => key(warm, i)));
  } catch (e) {
    await close();
    throw e;
  }
  return {
    megabytes,
    set: () => timed((run) => runPool(blobs, o.concurrency, async (b, i) => void (await client.set(key(run, i), b, 'EX', BLOB_TTL_SECONDS)))),
    transfer: () =>
      timed((run) =>
        runPool(blobs, o.concurrency, async (b, i) => {
          await client.set(key(run, i), b, 'EX', BLOB_TTL_SECONDS);
          if (!(await worker.getBuffer(key(run, i)))) throw new Error('floor: blob vanished');
        }),
      ),
    checked: () =>
      timed((run) =>
        runPool(blobs, o.concurrency, async (b, i) => {
          await client.set(key(run, i), b, 'EX', BLOB_TTL_SECONDS);
          await checker.check({ redisKey: key(run, i) });
          if (recoverUpdateSigner(domain, signed[i]!.msg, signed[i]!.signature) !== signer.address.toLowerCase()) throw new Error('floor: signer mismatch');
        }),
      ),
    close,
  };
}

export function noteFloor(o: { n: number; concurrency: number }, r: FloorResult): void {
  const f = (xs: number[]) => xs.map((v) => v.toFixed(0)).join(', ');
  note(`ingest floor: ${o.n} x ${(r.megabytes / o.n).toFixed(2)} MB, ${o.concurrency} in flight; set ${f(r.setMBps)}; set+get ${f(r.transferMBps)}; set+get+keccak+norm+ecrecover ${f(r.checkedMBps)} MB/s`);
}
