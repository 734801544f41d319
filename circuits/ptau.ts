/**
 * Deterministic, beacon-only powers-of-tau generator for TESTS AND THE DEMO.
 *
 *   npx tsx circuits/ptau.ts --power 14 --out circuits/ptau/pot14_final.ptau [--skip-verify]
 *
 * Stages (snarkjs 0.7 JS API, curve bn128):
 *   1. powersOfTau.newAccumulator(bn128, power)
 *   2. powersOfTau.beacon(..., BEACON_HASH, BEACON_ITERATIONS_EXP)   (the only contribution)
 *   3. powersOfTau.preparePhase2(...)
 *   4. powersOfTau.verify(...)                                       (unless --skip-verify)
 * then writes `<out>.sha256`.
 *
 * NOT A SECURE CEREMONY: the only contribution is a public beacon, so anyone can
 * recompute the toxic waste and forge proofs. Production must use the Perpetual
 * Powers of Tau file (see circuits/ptau/README.md) via the build's ptau path option.
 *
 * This is slow (power 14 is ~10+ minutes on 2 cores); it is run once and the output
 * committed. Never run it in CI.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile, rename, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { keccak256, toUtf8Bytes } from 'ethers';
import * as snarkjs from 'snarkjs';

/** Public, fixed beacon input. Changing it changes the ptau file. */
export const BEACON_STRING = 'verifiable-fl powers-of-tau beacon v1 (NOT A SECURE CEREMONY)';
/** keccak256(utf8(BEACON_STRING)) without the 0x prefix, as snarkjs wants it. */
export const BEACON_HASH = keccak256(toUtf8Bytes(BEACON_STRING)).slice(2);
/** snarkjs hashes the beacon 2^BEACON_ITERATIONS_EXP times (10 is its minimum). */
export const BEACON_ITERATIONS_EXP = 10;
export const BEACON_NAME = 'verifiable-fl deterministic beacon';
export const CURVE = 'bn128';

const t0 = Date.now();
const stamp = (): string => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(7)}s]`;

const logger: snarkjs.SnarkjsLogger = {
  debug: (msg) => console.log(`${stamp()} debug ${msg}`),
  info: (msg) => console.log(`${stamp()} info  ${msg}`),
  warn: (msg) => console.warn(`${stamp()} warn  ${msg}`),
  error: (msg) => console.error(`${stamp()} error ${msg}`),
};

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function stage<T>(name: string, timings: Record<string, number>, fn: () => Promise<T>): Promise<T> {
  console.log(`${stamp()} ==> ${name}`);
  const s = Date.now();
  const r = await fn();
  timings[name] = (Date.now() - s) / 1000;
  console.log(`${stamp()} <== ${name} done in ${timings[name]!.toFixed(1)}s`);
  return r;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      power: { type: 'string', default: '14' },
      out: { type: 'string' },
      'skip-verify': { type: 'boolean', default: false },
    },
  });
  const power = Number(values.power);
  if (!Number.isInteger(power) || power < 1 || power > 28) throw new Error(`bad --power ${values.power}`);
  const out = path.resolve(values.out ?? `circuits/ptau/pot${power}_final.ptau`);
  await mkdir(path.dirname(out), { recursive: true });

  console.log(`${stamp()} power=${power} curve=${CURVE} out=${out}`);
  console.log(`${stamp()} beacon string="${BEACON_STRING}"`);
  console.log(`${stamp()} beacon hash=${BEACON_HASH} iterationsExp=${BEACON_ITERATIONS_EXP}`);

  const work = await mkdtemp(path.join(tmpdir(), 'ptau-'));
  const p0 = path.join(work, 'pot_0000.ptau');
  const p1 = path.join(work, 'pot_0001.ptau');
  const pf = path.join(work, 'pot_final.ptau');
  const timings: Record<string, number> = {};
  const curve = await snarkjs.curves.getCurveFromName(CURVE);
  try {
    await stage('newAccumulator', timings, () => snarkjs.powersOfTau.newAccumulator(curve, power, p0, logger));
    const ok = await stage('beacon', timings, () =>
      snarkjs.powersOfTau.beacon(p0, p1, BEACON_NAME, BEACON_HASH, BEACON_ITERATIONS_EXP, logger),
    );
    if (ok === false) throw new Error('beacon contribution failed');
    await rm(p0);
    await stage('preparePhase2', timings, () => snarkjs.powersOfTau.preparePhase2(p1, pf, logger));
    await rm(p1);
    if (values['skip-verify']) {
      console.log(`${stamp()} verify SKIPPED (--skip-verify)`);
    } else {
      const verified = await stage('verify', timings, () => snarkjs.powersOfTau.verify(pf, logger));
      if (!verified) throw new Error('powersOfTau.verify failed');
      console.log(`${stamp()} verify PASSED`);
    }
    await rename(pf, out).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV') throw e;
      const { copyFile } = await import('node:fs/promises');
      await copyFile(pf, out);
    });
    const digest = await sha256File(out);
    await writeFile(`${out}.sha256`, `${digest}  ${path.basename(out)}\n`);
    const { size } = await stat(out);
    console.log(`${stamp()} wrote ${out} (${size} bytes) sha256=${digest}`);
    console.log(`${stamp()} timings(s): ${JSON.stringify(timings)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
    await curve.terminate();
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
