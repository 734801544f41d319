#!/usr/bin/env -S node --import tsx
/**
 * fl-audit: re-checks a task's whole on-chain history against the content it names. Exit codes:
 * 0 the audit passed, 1 it has findings, 2 usage error or the chain/content source cannot be used.
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { buildContracts } from '../../contracts/build.ts';
import { auditTask, releaseAuditResources } from './audit.ts';
import { AuditSetupError } from './chain-history.ts';
import { coordinatorSource, directorySource, SourceUnavailableError, type ContentSource } from './content-source.ts';
import { bucketSource, BucketUrl } from './s3-source.ts';
import { formatFinding, formatTable, summaryLine } from './report.ts';
import { muteFileHandleGcWarnings } from '../quiet-warnings.ts';

muteFileHandleGcWarnings();

const EXIT = { pass: 0, findings: 1, error: 2 } as const;

const HELP_AFTER = `
Content: give exactly one of --store or --coordinator. --store DIR reads the coordinator's
DATA_DIR (<dir>/<kind>/<hh>/<hash>) or a copy of it; --store s3://BUCKET/PREFIX reads the bucket
of a coordinator with STORE=s3 (S3_BUCKET, S3_PREFIX: the same layout under the prefix) with the
AWS SDK's default credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), from
AWS or from the S3-compatible server at --s3-endpoint (path-style URLs then); --coordinator reads
its GET /v1/{checkpoints,manifests,updates}/:hash routes. Every byte string is re-hashed; missing
or mismatching content is a finding.

Private tasks: every accepted update's membership proof is verified against the round's
participation root. With --coordinator the root is also rebuilt from the task's publicly admitted
members (GET /v1/tasks/:task/members); a directory or bucket holds no members list, so with
--store that check is reported as not run (it does not fail the audit).

Private tasks pin their zero-knowledge keys in the initial checkpoint: the audit checks that the
keys it verifies proofs with are the pinned ones, re-verifies a ceremony's every contribution and
beacon, and compares the claim verifier's bytecode on chain with the pinned key's. The ceremony
comes from --zk-keys DIR when given, else from the content source (the coordinator's
GET /v1/ceremony, copied to the system's temporary folder, or the directory's ceremony/).

Output: a table (round, checkpoint, parent, manifest, [participation, proofs,] rewards, claims,
reaggregated), the findings, and always as the last line: audit: task=N rounds=R pass|FAIL findings=K
With --json the first line is the whole report as one JSON object instead of the table.

Exit codes:
  0  the audit passed: every check of every round holds
  1  the audit found problems (each finding names its round and check)
  2  usage error, or the RPC node, the registry or the content source cannot be used`;

const nonNegativeInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return Number(v);
};
const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return Number(v);
};
const address = (v: string) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new InvalidArgumentError('must be a 0x-prefixed 20-byte hex address');
  return v;
};
/** A directory, or a bucket URL (checked here, so that a malformed one is a usage error). */
const storeArg = (v: string) => {
  if (!v.startsWith('s3://')) return v;
  const r = BucketUrl.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(r.error.issues.map((i) => i.message).join('; '));
  return v;
};
const httpUrl = (what: string) => (v: string) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`${what} must be a URL, e.g. http://127.0.0.1:8545`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`${what} must be an http(s) URL`);
  return v;
};

interface CliOptions {
  rpc: string;
  registry: string;
  task: number;
  store?: string;
  coordinator?: string;
  s3Endpoint?: string;
  s3Region?: string;
  reaggregate: boolean;
  json: boolean;
  report?: string;
  fromBlock?: number;
  toBlock?: number;
  blockRange?: number;
  zkKeys?: string;
  ptau?: string;
  ptauCeremony?: string;
}

/** The contract ABIs come from the build's artefacts; build them (a no-op when current) if missing. */
async function ensureArtifacts(): Promise<void> {
  try {
    loadArtifact('CheckpointRegistry');
    loadArtifact('RewardDistributor');
  } catch {
    await buildContracts({ quiet: true });
  }
}

async function run(o: CliOptions, s3EndpointFromFlag: boolean): Promise<number> {
  if ((o.store === undefined) === (o.coordinator === undefined)) {
    process.stderr.write('fl-audit: give exactly one of --store DIR or --coordinator URL\n');
    return EXIT.error;
  }
  const bucket = o.store?.startsWith('s3://') === true;
  // From the environment S3_ENDPOINT may be meant for something else; given as a flag it must apply.
  if (s3EndpointFromFlag && !bucket) {
    process.stderr.write('fl-audit: --s3-endpoint applies only to --store s3://BUCKET/PREFIX\n');
    return EXIT.error;
  }
  const source: ContentSource = bucket
    ? bucketSource(o.store as string, { ...(o.s3Endpoint ? { endpoint: o.s3Endpoint } : {}), ...(o.s3Region ? { region: o.s3Region } : {}) })
    : o.store !== undefined
      ? directorySource(o.store)
      : coordinatorSource(o.coordinator as string);
  await ensureArtifacts();
  const report = await auditTask({
    rpcUrl: o.rpc,
    registry: o.registry,
    task: o.task,
    source,
    reaggregate: o.reaggregate,
    fromBlock: o.fromBlock,
    toBlock: o.toBlock,
    blockRange: o.blockRange,
    ...(o.zkKeys ? { zkKeysDir: o.zkKeys } : {}),
    ...(o.ptau ? { ptau: o.ptau } : {}),
    ...(o.ptauCeremony ? { ptauCeremony: o.ptauCeremony } : {}),
  });
  if (o.report) writeFileSync(o.report, `${JSON.stringify(report, null, 2)}\n`);
  const out: string[] = [];
  if (o.json) out.push(JSON.stringify(report));
  else {
    out.push(`task ${report.task} on chain ${report.chainId}, registry ${report.registry}, blocks ${report.fromBlock}..${report.toBlock}, content from ${report.source}${report.reaggregate ? ', re-aggregating' : ''}`);
    out.push(formatTable(report));
    if (report.findings.length) {
      out.push('', 'findings:');
      for (const f of report.findings) out.push(`  ${formatFinding(f)}`);
    }
    const skipped = report.checks.filter((c) => c.skipped && !c.ok).length;
    if (skipped) out.push(`(${skipped} check(s) not run because a finding above blocks them)`);
    const optional = report.checks.filter((c) => c.skipped && c.ok);
    if (optional.length) out.push(`(${optional.length} optional check(s) not run: ${[...new Set(optional.map((c) => c.check))].join(', ')}; ${optional[0]!.detail.replace(/^not checked: /, '')})`);
  }
  out.push(summaryLine(report));
  process.stdout.write(`${out.join('\n')}\n`);
  return report.pass ? EXIT.pass : EXIT.findings;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('fl-audit')
    .description("Audit a federated-learning task's on-chain history: checkpoints, parent links, manifests, rewards, claims, and (with --reaggregate) the aggregation itself")
    .addOption(new Option('--rpc <url>', 'JSON-RPC URL of the chain').env('RPC_URL').argParser(httpUrl('--rpc')).makeOptionMandatory())
    .addOption(new Option('--registry <address>', 'CheckpointRegistry address').env('REGISTRY_ADDRESS').argParser(address).makeOptionMandatory())
    .requiredOption('--task <n>', 'task id', positiveInt('--task'))
    .addOption(new Option('--store <dir|s3-url>', "read content from a coordinator's DATA_DIR (or a copy), or from its bucket: s3://BUCKET/PREFIX").argParser(storeArg).conflicts('coordinator'))
    .addOption(new Option('--coordinator <url>', 'read content from a coordinator over HTTP').argParser(httpUrl('--coordinator')).conflicts('store'))
    .addOption(new Option('--s3-endpoint <url>', 'with --store s3://…: an S3-compatible server instead of AWS (path-style URLs)').env('S3_ENDPOINT').argParser(httpUrl('--s3-endpoint')))
    .addOption(new Option('--s3-region <name>', 'with --store s3://…: the bucket\'s region').env('S3_REGION').default('us-east-1'))
    .option('--reaggregate', 'fetch every accepted update and re-run the aggregation; the checkpoint hash must match bit for bit', false)
    .option('--json', 'print the report as one JSON line (before the summary line) instead of the table', false)
    .option('--report <file>', 'write the full JSON report to this file')
    .addOption(new Option('--from-block <n>', "first block to read events from (the registry's deployment block is enough)").env('REGISTRY_FROM_BLOCK').argParser(nonNegativeInt('--from-block')))
    .addOption(new Option('--to-block <n>', 'audit the history as of this block (default: latest)').argParser(nonNegativeInt('--to-block')))
    .addOption(new Option('--block-range <n>', 'at most this many blocks per eth_getLogs call (for RPC providers that limit it)').argParser(positiveInt('--block-range')))
    .addOption(new Option('--zk-keys <dir>', "private tasks with ceremony keys: the finalized ceremony folder (default: fetched from the content source); its transcript is re-verified").env('FL_ZK_KEYS'))
    .addOption(new Option('--ptau <file>', 'the phase-1 powers of tau a ceremony is re-verified against (default: the repository\'s)').conflicts('ptauCeremony'))
    .option('--ptau-ceremony <dir>', 'the phase-1 ceremony folder (fl-ceremony ptau): re-verified as well, and its final.ptau used')
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError('(fl-audit --help lists every option and the exit codes)')
    .exitOverride();
  program.action(async () => {
    process.exitCode = await run(program.opts<CliOptions>(), program.getOptionValueSource('s3Endpoint') === 'cli');
  });
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? EXIT.pass);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end "successfully"; every other parse error is a usage error.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.pass : EXIT.error;
    }
    const kind = e instanceof AuditSetupError ? 'chain' : e instanceof SourceUnavailableError ? 'content source' : 'error';
    process.stderr.write(`fl-audit: ${kind}: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.error;
  } finally {
    // Verifying private rounds' proofs starts snarkjs' worker threads; stop them (terminateZk).
    await releaseAuditResources();
  }
}

process.exit(await main(process.argv));
