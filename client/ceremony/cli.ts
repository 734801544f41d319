#!/usr/bin/env -S node --import tsx
/**
 * fl-ceremony: the Groth16 phase-2 setup ceremony of the project's circuits (circuits/ceremony).
 * Exit codes: 0 done (verify: the ceremony holds), 1 refused or verification failed (the reason is
 * named), 2 usage error.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CIRCUIT_NAMES, type CircuitName } from '../../circuits/artefacts.ts';
import { buildCircuits, DEFAULT_PTAU } from '../../circuits/build.ts';
import { contribute, finalizeCeremony, initCeremony, loadTranscript, verifyCeremony } from '../../circuits/ceremony/ceremony.ts';
import { CeremonyError, circuitsOf, latestFile, transcriptHash } from '../../circuits/ceremony/transcript.ts';
import { terminateZk } from '../../protocol/zk/proofs.ts';
import { CoordinatorError } from '../coordinator-api.ts';
import { muteFileHandleGcWarnings } from '../quiet-warnings.ts';
import { contributeRemote, fetchCeremony } from './remote.ts';
import { blockBeacon } from '../../circuits/ceremony/beacon-block.ts';
import { contributePhase1, finalizePhase1, finalPtauPath, initPhase1, loadPtauTranscript, verifyPhase1 } from '../../circuits/ceremony/phase1.ts';
import { ptauTranscriptHash } from '../../circuits/ceremony/ptau-transcript.ts';
import { JsonRpcProvider } from 'ethers';

muteFileHandleGcWarnings();

const HELP_AFTER = `
A ceremony lives in one folder (--dir): ceremony.json (the transcript) and files/<sha256>.zkey.
Pass the folder from contributor to contributor (copy it, or use the coordinator's /v1/ceremony
routes); each one runs contribute, which needs no network. The keys are safe when at least one
contributor's entropy was destroyed (this command never writes it anywhere).

  fl-ceremony init --dir ./ceremony                      the operator, once
  fl-ceremony contribute --dir ./ceremony --name alice   each contributor, in turn
  fl-ceremony verify --dir ./ceremony                    anyone, at any time
  fl-ceremony contribute --coordinator URL --name alice  through a coordinator that hosts the ceremony
  fl-ceremony fetch --coordinator URL --dir ./ceremony   a hosted ceremony into a folder, to verify offline
  fl-ceremony finalize --dir ./ceremony --beacon-block N --rpc URL --wait 600
                                                         the operator, with the hash of block N (announced
                                                         before the last contribution) as the beacon
  fl-ceremony verify --dir ./ceremony --rpc URL          also checks the beacon is block N's hash

Phase 1 (the powers of tau every circuit shares) runs the same way, in its own folder; its
final.ptau is what phase 2 starts from (the repository's development ptau is a beacon only):

  fl-ceremony ptau init --dir ./ptau --power 14          the operator, once
  fl-ceremony ptau contribute --dir ./ptau --name alice  each contributor, in turn
  fl-ceremony ptau finalize --dir ./ptau --beacon-block N --rpc URL --wait 600
  fl-ceremony ptau verify --dir ./ptau --rpc URL         anyone
  fl-ceremony init --dir ./ceremony --ptau ./ptau/final.ptau

Then FL_ZK_KEYS=./ceremony makes the coordinator, fl-client and fl-audit use the final keys, and
npm run deploy -- --zk-keys ./ceremony deploys the ceremony's claim verifier.

Exit codes: 0 done, 1 refused or the ceremony does not verify (the fault is named), 2 usage error.`;

const circuitList = (v: string): CircuitName[] => {
  const names = v.split(',').map((s) => s.trim());
  for (const n of names) if (!(CIRCUIT_NAMES as readonly string[]).includes(n)) throw new InvalidArgumentError(`unknown circuit '${n}' (known: ${CIRCUIT_NAMES.join(', ')})`);
  return names as CircuitName[];
};
const beaconValue = (v: string): string => {
  if (!/^0x[0-9a-fA-F]{64}$/.test(v)) throw new InvalidArgumentError('must be 0x and 64 hex digits (for instance a block hash)');
  return v.toLowerCase();
};
const httpUrl = (example: string) => (v: string): string => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`must be a URL such as ${example}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError('must be an http:// or https:// URL');
  return v;
};
const coordinatorUrl = httpUrl('http://127.0.0.1:8080');
const blockNumber = (v: string): number => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError('must be a block number');
  return Number(v);
};
const seconds = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) > 86_400) throw new InvalidArgumentError('must be a whole number of seconds, at most 86400');
  return Number(v);
};
const iterations = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 10 || Number(v) > 63) throw new InvalidArgumentError('must be an integer from 10 to 63');
  return Number(v);
};

interface Common {
  dir: string;
  ptau: string;
  json?: boolean;
}

const say = (o: { json?: boolean }) => (line: string) => {
  if (!o.json) console.error(line);
};

async function ensureBuilt(o: { json?: boolean }): Promise<void> {
  await buildCircuits({ quiet: true, json: o.json === true });
}

interface BeaconOptions {
  beacon?: string;
  beaconSource?: string;
  beaconBlock?: number;
  rpc?: string;
  wait: number;
  iterationsExp: number;
}

/** finalize's beacon options, the same for both phases: a block named in advance, or a value and its source. */
const withBeaconOptions = (c: Command): Command =>
  c.addOption(new Option('--beacon-block <n>', 'take the beacon from the hash of this block (announce the number before the last contribution); needs --rpc').argParser(blockNumber).conflicts('beacon'))
    .option('--rpc <url>', 'with --beacon-block: an RPC node of the chain the block is on', httpUrl('http://127.0.0.1:8545'))
    .option('--wait <seconds>', 'with --beacon-block: wait up to this long for the block to be mined', seconds, 0)
    .addOption(new Option('--beacon <hex>', 'or give the public random value itself: 0x + 64 hex digits, fixed after the last contribution').argParser(beaconValue))
    .option('--beacon-source <text>', 'with --beacon: where the value comes from, so anyone can check it (e.g. "hash of Ethereum block 21000000")')
    .option('--iterations-exp <n>', 'the beacon is hashed 2^n times', iterations, 10);

/** Usage errors (exit 2) for a beacon given by halves. */
function checkBeaconOptions(o: BeaconOptions, cmd: Command): void {
  if (o.beaconBlock === undefined && o.beacon === undefined) cmd.error('error: give --beacon-block <n> with --rpc <url>, or --beacon <hex> with --beacon-source <text>', { exitCode: 2 });
  if (o.beaconBlock !== undefined && !o.rpc) cmd.error('error: --beacon-block needs --rpc <url>', { exitCode: 2 });
  if (o.beacon !== undefined && !o.beaconSource) cmd.error('error: --beacon needs --beacon-source <text>', { exitCode: 2 });
}

/** The beacon value, its source in words and, for a block, which one (waiting for it as told). */
async function beaconOf(o: BeaconOptions & { json?: boolean }): Promise<{ value: string; source: string; block?: { chainId: number; number: number } }> {
  const b = o.beaconBlock !== undefined ? await blockBeacon(o.rpc!, o.beaconBlock, { waitMs: o.wait * 1000, log: say(o) }) : { value: o.beacon!, source: o.beaconSource! };
  say(o)(`beacon ${b.value} (${b.source})`);
  return b;
}

const program = new Command('fl-ceremony')
  .description('Run, join and verify the Groth16 setup ceremony of the private-task circuits.')
  .addHelpText('after', HELP_AFTER)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const withCommon = (c: Command, dirRequired = true): Command =>
  (dirRequired ? c.requiredOption('--dir <folder>', 'the ceremony folder') : c.option('--dir <folder>', 'the ceremony folder'))
    .option('--ptau <file>', 'phase-1 powers of tau (default: FL_PTAU or the repository\'s development file)', process.env.FL_PTAU ?? DEFAULT_PTAU)
    .option('--json', 'print one JSON object on stdout instead of lines');

withCommon(program.command('init').description('start a ceremony: the initial keys from the circuits and the ptau'))
  .option('--circuits <list>', `comma-separated circuits (default: ${CIRCUIT_NAMES.join(',')})`, circuitList)
  .action(async (o: Common & { circuits?: CircuitName[] }) => {
    await ensureBuilt(o);
    const t = await initCeremony({ dir: resolve(o.dir), ptau: resolve(o.ptau), ...(o.circuits ? { circuits: o.circuits } : {}), log: say(o) });
    const out = { dir: resolve(o.dir), circuits: t.circuits, transcript: transcriptHash(t) };
    if (o.json) console.log(JSON.stringify(out));
    else console.log(`ceremony started in ${out.dir} for ${circuitsOf(t).join(', ')}: next, contributors run fl-ceremony contribute --dir ${o.dir} --name <name>`);
  });

withCommon(program.command('contribute').description('add your entropy to the latest keys (works offline on --dir, or through --coordinator)'), false)
  .requiredOption('--name <name>', 'your name or handle, recorded in the keys (printable ASCII, up to 64)')
  .option('--entropy <text>', 'extra text mixed into 64 fresh random bytes (never stored)')
  .addOption(new Option('--coordinator <url>', 'contribute to the ceremony this coordinator hosts instead of a folder').argParser(coordinatorUrl).conflicts('dir'))
  .action(async (o: Common & { name: string; entropy?: string; coordinator?: string }, cmd: Command) => {
    if (!o.dir && !o.coordinator) cmd.error("error: required option '--dir <folder>' or '--coordinator <url>' not specified", { exitCode: 2 });
    const entropy = o.entropy ? { entropy: o.entropy } : {};
    const c = o.coordinator
      ? await contributeRemote({ coordinator: o.coordinator, name: o.name, ...entropy, log: say(o) })
      : (await ensureBuilt(o), await contribute({ dir: resolve(o.dir), ptau: resolve(o.ptau), name: o.name, ...entropy, log: say(o) }));
    const hashes = Object.fromEntries(Object.entries(c.circuits).map(([k, s]) => [k, s!.hash]));
    if (o.json) console.log(JSON.stringify({ index: c.index, name: c.name, hashes }));
    else {
      console.log(`contribution ${c.index} by ${c.name} added. Publish these hashes so anyone can find yours in the transcript:`);
      for (const [k, h] of Object.entries(hashes)) console.log(`  ${k}: ${h}`);
    }
  });

withCommon(program.command('verify').description('check every contribution, the beacon and the final keys'))
  .option('--rpc <url>', "an RPC node of the beacon block's chain: the beacon must be that block's hash", httpUrl('http://127.0.0.1:8545'))
  .action(async (o: Common & { rpc?: string }) => {
    await ensureBuilt(o);
    const provider = o.rpc ? new JsonRpcProvider(o.rpc, undefined, { staticNetwork: true }) : undefined;
    try {
      const r = await verifyCeremony({ dir: resolve(o.dir), ptau: resolve(o.ptau), log: say(o), ...(provider ? { provider } : {}) });
      if (o.json) console.log(JSON.stringify(r));
      else {
        for (const c of r.contributors) console.log(`contribution ${c.index} ${c.name}: ${Object.entries(c.hashes).map(([k, h]) => `${k} ${h!.slice(0, 16)}…`).join(', ')}`);
        if (r.beacon) console.log(`beacon ${r.beacon.value} (${r.beacon.source})${r.beacon.check ? `: ${r.beacon.check}` : r.beacon.block ? ' (give --rpc to check it is that block\'s hash)' : ''}`);
        console.log(r.ok ? `ceremony: pass contributions=${r.contributors.length} finalized=${r.final ? 'yes' : 'no'} transcript=${r.transcriptHash}` : `ceremony: FAIL at ${r.failure!.at}: ${r.failure!.reason}`);
      }
      process.exitCode = r.ok ? 0 : 1;
    } finally {
      provider?.destroy();
    }
  });

withBeaconOptions(withCommon(program.command('finalize').description('apply the public beacon, export verification keys and verifiers')))
  .action(async (o: Common & BeaconOptions, cmd: Command) => {
    checkBeaconOptions(o, cmd);
    await ensureBuilt(o);
    const b = await beaconOf(o);
    const t = await finalizeCeremony({ dir: resolve(o.dir), ptau: resolve(o.ptau), beacon: b.value, source: b.source, ...(b.block ? { block: b.block } : {}), iterationsExp: o.iterationsExp, log: say(o) });
    const out = { transcript: transcriptHash(t), contributions: t.contributions.length, beacon: t.beacon, final: t.final };
    if (o.json) console.log(JSON.stringify(out));
    else console.log(`ceremony finalized after ${out.contributions} contributions with the ${b.source}; transcript ${out.transcript}. Use it with FL_ZK_KEYS=${o.dir}`);
  });

program.command('fetch').description("download a hosted ceremony (transcript and every file) into a folder, for verify --dir")
  .requiredOption('--coordinator <url>', 'the coordinator that hosts the ceremony', coordinatorUrl)
  .requiredOption('--dir <folder>', 'the folder to write (ceremony.json, files/, and keys/ once finalized)')
  .option('--json', 'print one JSON object on stdout instead of lines')
  .action(async (o: { coordinator: string; dir: string; json?: boolean }) => {
    const r = await fetchCeremony({ coordinator: o.coordinator, dir: resolve(o.dir), log: say(o) });
    if (o.json) console.log(JSON.stringify(r));
    else console.log(`fetched ${r.contributions} contribution(s), ${r.files} files (${r.downloaded} downloaded), ${r.finalized ? 'finalized' : 'open'}; transcript ${r.transcriptHash}. Check it with fl-ceremony verify --dir ${o.dir}`);
  });

withCommon(program.command('status').description('the transcript so far'))
  .action((o: Common) => {
    const t = loadTranscript(resolve(o.dir));
    const out = {
      transcript: transcriptHash(t),
      circuits: circuitsOf(t),
      contributions: t.contributions.map((c) => ({ index: c.index, name: c.name })),
      latest: Object.fromEntries(circuitsOf(t).map((n) => [n, latestFile(t, n)])),
      finalized: t.final !== null,
    };
    if (o.json) console.log(JSON.stringify(out));
    else console.log(`circuits ${out.circuits.join(', ')}; ${out.contributions.length} contribution(s)${out.contributions.length ? ` (${out.contributions.map((c) => c.name).join(', ')})` : ''}; ${out.finalized ? 'finalized' : 'open'}; transcript ${out.transcript}`);
  });

const ptau = program.command('ptau').description('phase 1: a powers-of-tau ceremony, whose final.ptau a phase-2 ceremony starts from (init --ptau)');
const ptauCommon = (c: Command): Command => c.requiredOption('--dir <folder>', 'the phase-1 folder (ptau.json, files/, final.ptau)').option('--json', 'print one JSON object on stdout instead of lines');
const power = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 28) throw new InvalidArgumentError('must be an integer from 1 to 28 (2^power constraints; the repository\'s circuits need 14)');
  return Number(v);
};

ptauCommon(ptau.command('init').description('start a phase-1 ceremony: the empty accumulator of 2^power powers'))
  .requiredOption('--power <n>', 'circuits of up to 2^n constraints', power)
  .action(async (o: { dir: string; power: number; json?: boolean }) => {
    const t = await initPhase1({ dir: resolve(o.dir), power: o.power, log: say(o) });
    if (o.json) console.log(JSON.stringify({ dir: resolve(o.dir), power: t.power, init: t.init, transcript: ptauTranscriptHash(t) }));
    else console.log(`phase-1 ceremony of power ${t.power} started in ${resolve(o.dir)}: next, contributors run fl-ceremony ptau contribute --dir ${o.dir} --name <name>`);
  });

ptauCommon(ptau.command('contribute').description('add your entropy to the latest powers of tau (offline, on the folder)'))
  .requiredOption('--name <name>', 'your name or handle, recorded in the file (printable ASCII, up to 64)')
  .option('--entropy <text>', 'extra text mixed into 64 fresh random bytes (never stored)')
  .action(async (o: { dir: string; name: string; entropy?: string; json?: boolean }) => {
    const c = await contributePhase1({ dir: resolve(o.dir), name: o.name, ...(o.entropy ? { entropy: o.entropy } : {}), log: say(o) });
    if (o.json) console.log(JSON.stringify(c));
    else console.log(`phase-1 contribution ${c.index} by ${c.name} added. Publish its response hash:\n  ${c.hash}`);
  });

ptauCommon(ptau.command('verify').description('check the empty accumulator, every contribution, the beacon and final.ptau'))
  .option('--rpc <url>', "an RPC node of the beacon block's chain: the beacon must be that block's hash", httpUrl('http://127.0.0.1:8545'))
  .action(async (o: { dir: string; rpc?: string; json?: boolean }) => {
    const provider = o.rpc ? new JsonRpcProvider(o.rpc, undefined, { staticNetwork: true }) : undefined;
    try {
      const r = await verifyPhase1({ dir: resolve(o.dir), log: say(o), ...(provider ? { provider } : {}) });
      if (o.json) console.log(JSON.stringify(r));
      else {
        for (const c of r.contributors) console.log(`contribution ${c.index} ${c.name}: ${c.hash.slice(0, 16)}…`);
        if (r.beacon) console.log(`beacon ${r.beacon.value} (${r.beacon.source})${r.beacon.check ? `: ${r.beacon.check}` : ''}`);
        console.log(r.ok ? `ptau: pass power=${r.power} contributions=${r.contributors.length} final=${r.final ?? 'none'} transcript=${r.transcriptHash}` : `ptau: FAIL at ${r.failure!.at}: ${r.failure!.reason}`);
      }
      process.exitCode = r.ok ? 0 : 1;
    } finally {
      provider?.destroy();
    }
  });

withBeaconOptions(ptauCommon(ptau.command('finalize').description('apply the public beacon and prepare final.ptau for phase 2 (slow: minutes at power 14)')))
  .action(async (o: { dir: string; json?: boolean } & BeaconOptions, cmd: Command) => {
    checkBeaconOptions(o, cmd);
    const b = await beaconOf(o);
    const t = await finalizePhase1({ dir: resolve(o.dir), beacon: b.value, source: b.source, ...(b.block ? { block: b.block } : {}), iterationsExp: o.iterationsExp, log: say(o) });
    const out = { transcript: ptauTranscriptHash(t), contributions: t.contributions.length, beacon: t.beacon, final: t.final, ptau: finalPtauPath(resolve(o.dir)) };
    if (o.json) console.log(JSON.stringify(out));
    else console.log(`phase 1 finalized after ${out.contributions} contributions; ${out.ptau} (sha256 ${t.final!.sha256}). Start phase 2 with fl-ceremony init --dir <folder> --ptau ${out.ptau}`);
  });

ptauCommon(ptau.command('status').description('the phase-1 transcript so far'))
  .action((o: { dir: string; json?: boolean }) => {
    const t = loadPtauTranscript(resolve(o.dir));
    const out = { transcript: ptauTranscriptHash(t), power: t.power, contributions: t.contributions.map((c) => ({ index: c.index, name: c.name })), finalized: t.final !== null };
    if (o.json) console.log(JSON.stringify(out));
    else console.log(`power ${out.power}; ${out.contributions.length} contribution(s)${out.contributions.length ? ` (${out.contributions.map((c) => c.name).join(', ')})` : ''}; ${out.finalized ? 'finalized' : 'open'}; transcript ${out.transcript}`);
  });

for (const c of ptau.commands) c.addHelpText('after', '\nExit codes: 0 done, 1 refused or the ceremony does not verify (the fault is named), 2 usage error.');
for (const c of program.commands) c.addHelpText('after', '\nExit codes: 0 done, 1 refused or the ceremony does not verify (the fault is named), 2 usage error.');

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else if (e instanceof CeremonyError) {
    console.error(`fl-ceremony: ${e.code}: ${e.message}`);
    process.exitCode = 1;
  } else if (e instanceof CoordinatorError) {
    console.error(`fl-ceremony: ${e.code}: ${e.message}`);
    process.exitCode = 1;
  } else {
    console.error(`fl-ceremony: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  }
} finally {
  await terminateZk();
}
