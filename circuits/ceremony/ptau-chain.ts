import * as snarkjs from 'snarkjs';
import { verifyWithLog } from './snarkjs-verify-log.ts';

/**
 * What snarkjs finds in a powers-of-tau file. `powersOfTau.verify` checks every contribution it holds
 * (each proof of knowledge, and that each one's points are a same-ratio image of the one before) and
 * the beacon's keys; like the zkey reader (zkey-chain.ts) this reads the contribution list it prints
 * back, so that it can be compared with a phase-1 transcript.
 */
export interface PtauEntry {
  index: number;
  name: string;
  /** The contribution's response hash (BLAKE2b-512), 128 hex digits: what `contribute` returns. */
  hash: string;
  beacon?: { value: string; iterationsExp: number };
}

export type PtauReading = { ok: true; entries: PtauEntry[] } | { ok: false; reason: string };

const HEADER = /^Contribution #(\d+): ?(.*)$/;

/** Verifies a ptau file; never throws on a malformed one. */
export async function readPtauChain(file: string): Promise<PtauReading> {
  const read = await verifyWithLog((logger) => snarkjs.powersOfTau.verify(file, logger), { unreadable: 'not a readable powers-of-tau file', rejected: 'snarkjs rejected the file' });
  if (!read.ok) return read;
  // One message per heading, the 64-byte values on the lines after it ("Response Hash:\n\t\t6b2a…").
  const entries: PtauEntry[] = [];
  let current: PtauEntry | null = null;
  let wantHash = false;
  for (const msg of read.lines) {
    const [head = '', ...rest] = msg.split('\n');
    const h = HEADER.exec(head.trim());
    if (h) {
      current = { index: Number(h[1]), name: h[2] ?? '', hash: '' };
      entries.push(current);
      wantHash = false;
      continue;
    }
    if (!current) continue;
    // The first "Response Hash" after the heading is this contribution's own.
    if (/^Response Hash:?$/.test(head.trim()) && current.hash === '') {
      const value = rest.join('').replace(/\s+/g, '');
      if (value) current.hash = value;
      else wantHash = true;
      continue;
    }
    if (wantHash && current.hash === '') {
      current.hash = msg.replace(/\s+/g, '');
      wantHash = false;
      continue;
    }
    const beacon = /^Beacon generator: ([0-9a-f]+)$/.exec(msg.trim());
    const iter = /^Beacon iterations Exp: (\d+)$/.exec(msg.trim());
    if (beacon) current.beacon = { value: beacon[1]!, iterationsExp: current.beacon?.iterationsExp ?? 0 };
    if (iter && current.beacon) current.beacon.iterationsExp = Number(iter[1]);
  }
  entries.sort((a, b) => a.index - b.index);
  if (entries.some((e, i) => e.index !== i + 1 || !/^[0-9a-f]{128}$/.test(e.hash))) return { ok: false, reason: 'snarkjs reported a contribution list this reader does not understand' };
  return { ok: true, entries };
}
