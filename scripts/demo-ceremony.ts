/**
 * The demo's setup ceremony (`npm run demo -- --private --ceremony N`): N contributors, each a
 * separate fl-ceremony process with its own entropy, then a beacon, exactly as an operator and
 * outside contributors would run it (docs/private-tasks.md). Returns the finalized folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonRpcProvider, keccak256, toUtf8Bytes } from 'ethers';

export interface DemoCeremony {
  dir: string;
  contributors: number;
  seconds: number;
  /** Wall time of each contribution (both circuits), in seconds. */
  contributionSeconds: number[];
}

function ceremony(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/fl-ceremony.js', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`fl-ceremony ${args[0]} exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}

export async function runDemoCeremony(n: number, say: (line: string) => void, beaconChain?: { rpcUrl: string; mine: boolean }): Promise<DemoCeremony> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'fl-ceremony-'));
  await ceremony(['init', '--dir', dir]);
  say(`demo: ceremony started in ${dir} (membership and claim circuits)`);
  const contributionSeconds: number[] = [];
  for (let i = 1; i <= n; i++) {
    const s = Date.now();
    const r = JSON.parse(await ceremony(['contribute', '--dir', dir, '--name', `contributor-${i}`])) as { index: number; hashes: Record<string, string> };
    contributionSeconds.push((Date.now() - s) / 1000);
    say(`demo: ceremony contribution ${r.index} (separate process, own entropy): membership ${r.hashes['membership']!.slice(0, 16)}…, claim ${r.hashes['claim']!.slice(0, 16)}…`);
  }
  let finalized: string;
  if (beaconChain) {
    // As in a real ceremony: the block is announced before it exists, and its hash is the beacon.
    const provider = new JsonRpcProvider(beaconChain.rpcUrl, undefined, { staticNetwork: true });
    const block = (await provider.getBlockNumber()) + 1;
    say(`demo: beacon = hash of block ${block} of the demo chain, announced now, before it is mined`);
    if (beaconChain.mine) await provider.send('evm_mine', []);
    provider.destroy();
    finalized = await ceremony(['finalize', '--dir', dir, '--beacon-block', String(block), '--rpc', beaconChain.rpcUrl, '--wait', '600']);
  } else {
    // No chain (CHAIN=off): a hash of the time after the last contribution, named as demo only.
    const now = new Date().toISOString();
    const beacon = keccak256(toUtf8Bytes(`verifiable-fl demo beacon ${now}`));
    finalized = await ceremony(['finalize', '--dir', dir, '--beacon', beacon, '--beacon-source', `demo only: keccak256("verifiable-fl demo beacon ${now}")`]);
  }
  const { beacon } = JSON.parse(finalized) as { beacon: { value: string; source: string } };
  say(`demo: ceremony finalized with beacon ${beacon.value.slice(0, 18)}… (${beacon.source})`);
  return { dir, contributors: n, seconds: (Date.now() - t0) / 1000, contributionSeconds };
}
