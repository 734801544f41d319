import * as snarkjs from 'snarkjs';
import { verifyWithLog } from './snarkjs-verify-log.ts';

/**
 * What snarkjs finds in a phase-2 zkey, checked against the initial key it claims to extend.
 *
 * `zKey.verifyFromInit` does the cryptography (every contribution's proof of knowledge, the delta
 * chain, beacon keys re-derived, and every section a same-ratio image of the initial key's), but it
 * only reports the contribution list through its logger. This reads that list back, so that a caller
 * can compare it with the transcript: which contributions, in which order, with which hashes.
 */

export interface ChainEntry {
  /** 1-based, as snarkjs numbers them. */
  index: number;
  name: string;
  /** BLAKE2b-512 of the contributor's public key, 128 hex digits. */
  hash: string;
  /** Set for a beacon contribution: the beacon value (hex, no 0x) and its iteration exponent. */
  beacon?: { value: string; iterationsExp: number };
}

export type ChainReading = { ok: true; entries: ChainEntry[] } | { ok: false; reason: string };

const HEADER = /^contribution #(\d+) ?(.*):$/;

/** Verifies `zkey` against `init` and the phase-1 `ptau`; never throws on a malformed zkey. */
export async function readChain(init: string, ptau: string, zkey: string): Promise<ChainReading> {
  const read = await verifyWithLog((logger) => snarkjs.zKey.verifyFromInit(init, ptau, zkey, logger), { unreadable: 'not a readable zkey of this circuit', rejected: 'snarkjs rejected the key' });
  if (!read.ok) return read;
  const entries: ChainEntry[] = [];
  for (const line of read.lines) {
    const [head, ...rest] = line.split('\n');
    const m = HEADER.exec((head ?? '').trim());
    if (m) {
      entries.push({ index: Number(m[1]), name: m[2] ?? '', hash: rest.join('').replace(/\s+/g, '') });
      continue;
    }
    const beacon = /^Beacon generator: ([0-9a-f]+)$/.exec(line.trim());
    const iter = /^Beacon iterations Exp: (\d+)$/.exec(line.trim());
    const last = entries.at(-1);
    if (beacon && last) last.beacon = { value: beacon[1]!, iterationsExp: last.beacon?.iterationsExp ?? 0 };
    if (iter && last?.beacon) last.beacon.iterationsExp = Number(iter[1]);
  }
  // snarkjs lists the newest first.
  entries.sort((a, b) => a.index - b.index);
  if (entries.some((e, i) => e.index !== i + 1 || !/^[0-9a-f]{128}$/.test(e.hash))) return { ok: false, reason: 'snarkjs reported a contribution list this reader does not understand' };
  return { ok: true, entries };
}
