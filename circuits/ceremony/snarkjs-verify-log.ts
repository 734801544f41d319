import type * as snarkjs from 'snarkjs';

/**
 * Runs one of snarkjs's verifiers and keeps what it printed: snarkjs reports the contribution list
 * only through its logger, and some failures (a broken transcript, a bad proof of knowledge) only with
 * console.log. Never throws: a file snarkjs cannot read is `unreadable`, a rejection carries what
 * snarkjs said (or `rejected` when it said nothing). The chain readers (zkey-chain.ts, ptau-chain.ts)
 * parse `lines` into their contribution lists.
 */
export async function verifyWithLog(
  verify: (logger: snarkjs.SnarkjsLogger) => Promise<boolean>,
  words: { unreadable: string; rejected: string },
): Promise<{ ok: true; lines: string[] } | { ok: false; reason: string }> {
  const lines: string[] = [];
  const problems: string[] = [];
  const logger: snarkjs.SnarkjsLogger = {
    debug() {},
    info: (m) => lines.push(String(m)),
    warn: (m) => problems.push(String(m)),
    error: (m) => problems.push(String(m)),
  };
  const log = console.log;
  console.log = (...args: unknown[]) => problems.push(args.map(String).join(' '));
  let ok: boolean;
  try {
    ok = (await verify(logger)) === true;
  } catch (e) {
    return { ok: false, reason: `${words.unreadable}: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    console.log = log;
  }
  if (!ok) return { ok: false, reason: problems.map((p) => p.trim()).filter(Boolean).join('; ') || words.rejected };
  return { ok: true, lines };
}
