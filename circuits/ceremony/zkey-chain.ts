import * as snarkjs from 'snarkjs';

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
  const lines: string[] = [];
  const problems: string[] = [];
  const logger: snarkjs.SnarkjsLogger = {
    debug() {},
    info: (m) => lines.push(String(m)),
    warn: (m) => problems.push(String(m)),
    error: (m) => problems.push(String(m)),
  };
  // snarkjs prints some failures (a broken transcript, a bad proof of knowledge) with console.log.
  const log = console.log;
  console.log = (...args: unknown[]) => problems.push(args.map(String).join(' '));
  let ok: boolean;
  try {
    ok = (await snarkjs.zKey.verifyFromInit(init, ptau, zkey, logger)) === true;
  } catch (e) {
    return { ok: false, reason: `not a readable zkey of this circuit: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    console.log = log;
  }
  if (!ok) return { ok: false, reason: problems.map((p) => p.trim()).filter(Boolean).join('; ') || 'snarkjs rejected the key' };
  const entries: ChainEntry[] = [];
  for (const line of lines) {
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
