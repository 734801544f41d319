/**
 * Diagnostic (not a figure): what each CPU step of the update worker costs on one 4 MB delta, measured
 * with the product's own functions, so an ingestion figure can be read against its parts.
 */
import { Wallet } from 'ethers';
import { Redis } from 'ioredis';
import { contentHash, DEFAULT_DOMAIN, encodeFloat32, firstNonFinite, l2Norm, recoverUpdateSigner, signUpdate, weightManifest } from '../protocol/index.ts';
import { clientDelta, MODEL_1M, note, randomVector } from './common.ts';

export type StageCosts = Record<string, number>;

async function median(f: () => unknown, reps: number, warm = 3): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1]!;
}

export async function benchStages(redisUrl: string, prefix: string, reps = 9): Promise<StageCosts> {
  const delta = clientDelta(randomVector(weightManifest(MODEL_1M).size, 5), 0);
  const bytes = encodeFloat32(delta);
  const wallet = Wallet.createRandom();
  const msg = { task: 1, round: 1, baseHash: `0x${'11'.repeat(32)}`, updateHash: await contentHash(bytes), numSamples: 10 };
  const signature = await signUpdate(wallet, DEFAULT_DOMAIN, msg);
  const r = new Redis(redisUrl);
  const key = `${prefix}:stages:blob`;
  const mb = bytes.byteLength / 1e6;
  try {
    await r.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const costs: StageCosts = {
      redisGetBuffer: await median(() => r.getBuffer(key), reps),
      keccak: await median(() => contentHash(bytes), reps),
      recoverSigner: await median(() => recoverUpdateSigner(DEFAULT_DOMAIN, msg, signature), reps),
      firstNonFinite: await median(() => firstNonFinite(delta), reps),
      l2Norm: await median(() => l2Norm(delta), reps),
      redisSet: await median(() => r.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)), reps),
    };
    const parts = Object.entries(costs).map(([k, v]) => `${k} ${v.toFixed(1)}`);
    note(`worker step costs per ${mb.toFixed(2)} MB delta (median ms): ${parts.join(', ')}; keccak = ${(mb / (costs.keccak! / 1000)).toFixed(0)} MB/s`);
    return costs;
  } finally {
    await r.del(key);
    r.disconnect();
  }
}
