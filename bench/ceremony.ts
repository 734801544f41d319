/**
 * What a setup-ceremony contributor's machine spends: one phase-2 contribution on each circuit's
 * current key (the build's, which has the size of every key in a ceremony of it), against one
 * Groth16 proof of the same circuit in the same run; and one phase-1 contribution at a small power.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as snarkjs from 'snarkjs';
import { BUILD_DIR, CIRCUIT_NAMES, type CircuitName } from '../circuits/artefacts.ts';
import { buildCircuits } from '../circuits/build.ts';
import { identityFromSeed, MembersTree, proveClaim, proveMembership } from '../protocol/zk/index.ts';

export interface CeremonyBench {
  circuits: Record<CircuitName, { contributionMs: number; bytes: number; proveMs: number; ratio: number }>;
  phase1: { power: number; contributionMs: number; bytes: number };
}

const best = async (runs: number, fn: () => Promise<unknown>): Promise<number> => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
};

export async function benchCeremony(o: { runs: number; phase1Power: number }): Promise<CeremonyBench> {
  await buildCircuits({ quiet: true });
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-ceremony-'));
  try {
    const me = identityFromSeed('bench-ceremony');
    const tree = MembersTree.of([me.commitment, identityFromSeed('other').commitment]);
    const prove: Record<CircuitName, () => Promise<unknown>> = {
      membership: () => proveMembership({ secret: me.secret, path: tree.pathOf(me.commitment), membersRoot: tree.root, task: 1, round: 1, updateDigest: 7n }),
      claim: () => proveClaim({ secret: me.secret, task: 1, round: 1, recipient: `0x${'42'.repeat(20)}` }),
    };
    const circuits = {} as CeremonyBench['circuits'];
    for (const name of CIRCUIT_NAMES) {
      await prove[name](); // warm-up: curve and worker threads
      const proveMs = await best(o.runs, prove[name]);
      const out = join(dir, `${name}.zkey`);
      const contributionMs = await best(o.runs, () => snarkjs.zKey.contribute(join(BUILD_DIR, `${name}.zkey`), out, 'bench', randomBytes(64).toString('hex')));
      circuits[name] = { contributionMs, bytes: statSync(out).size, proveMs, ratio: contributionMs / proveMs };
    }
    const p0 = join(dir, 'p0.ptau');
    const p1 = join(dir, 'p1.ptau');
    await snarkjs.powersOfTau.newAccumulator(await snarkjs.curves.getCurveFromName('bn128'), o.phase1Power, p0);
    const phase1Ms = await best(1, () => snarkjs.powersOfTau.contribute(p0, p1, 'bench', randomBytes(64).toString('hex')));
    return { circuits, phase1: { power: o.phase1Power, contributionMs: phase1Ms, bytes: statSync(p1).size } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
