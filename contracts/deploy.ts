/**
 * Deploys the reward token and the Groth16 claim verifier (unless existing ones are given) and the
 * checkpoint registry, which creates and binds its reward distributor itself. As a library:
 * deployContracts(signer). As a CLI:
 *
 *   PRIVATE_KEY=0x... npm run deploy -- --rpc URL [--token ADDRESS] [--claim-verifier ADDRESS] [--coordinator ADDRESS] [--zk-keys CEREMONY]
 *
 * builds the contracts when needed, deploys, and prints the addresses as one JSON object on stdout.
 */
import { Command, CommanderError } from 'commander';
import { ContractFactory, getAddress, parseUnits, type Signer } from 'ethers';
import { ceremonyKeySet } from '../circuits/key-set.ts';
import { z } from 'zod';
import { attach, deploy, type CheckpointRegistry, type ClaimVerifier, type RewardDistributor, type RewardToken } from './artifacts.ts';
import { buildContracts } from './build.ts';
import { claimVerifierArtifact } from './claim-verifier.ts';
import { isEntryPoint } from './entry.ts';
import { managedSigner, rpcProvider } from './provider.ts';

export interface DeployOptions {
  /** Use this ERC-20 for rewards instead of deploying a RewardToken. */
  token?: string;
  /**
   * Use this deployed ClaimVerifier instead of deploying one. A verifier holds no state, so one
   * deployment can serve several registries, but it must be the verifier of the claim circuit's keys
   * the members prove with.
   */
  claimVerifier?: string;
  /**
   * A finalized setup-ceremony folder (fl-ceremony): deploy its claim verifier (keys/ClaimVerifier.json)
   * instead of the development one. Default: FL_ZK_KEYS when set.
   */
  zkKeysDir?: string;
  /** Holder of COORDINATOR_ROLE (the deployer by default). The deployer always gets the admin role. */
  coordinator?: string;
  /** Supply minted to the deployer when a RewardToken is deployed (1,000,000 tokens of 18 decimals). */
  initialSupply?: bigint;
}

export interface Deployment {
  registry: CheckpointRegistry;
  distributor: RewardDistributor;
  /** The reward token; typed as RewardToken, whose ABI is plain ERC-20, so it fits a given token too. */
  token: RewardToken;
  /** The Groth16 verifier private claims are checked with (contracts/src/generated/ClaimVerifier.sol). */
  claimVerifier: ClaimVerifier;
  addresses: { registry: string; distributor: string; token: string; claimVerifier: string };
  /** Block of the registry's deployment: where an auditor starts reading events. */
  blockNumber: number;
}

/** The development claim verifier from the build, or a ceremony's (compiled by fl-ceremony finalize). */
async function deployClaimVerifier(signer: Signer, zkKeysDir: string | undefined): Promise<ClaimVerifier> {
  if (!zkKeysDir) return (await deploy('ClaimVerifier', signer)).waitForDeployment();
  // ceremonyKeySet refuses a folder that is not a finalized ceremony with both keys.
  const a = claimVerifierArtifact(ceremonyKeySet(zkKeysDir));
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy();
  await c.waitForDeployment();
  return attach('ClaimVerifier', await c.getAddress(), signer);
}

export const DEFAULT_SUPPLY = parseUnits('1000000', 18);

/** Deploys everything with `signer` (wrap a wallet in a NonceManager) and waits for it to be mined. */
export async function deployContracts(signer: Signer, opts: DeployOptions = {}): Promise<Deployment> {
  const deployer = await signer.getAddress();
  const provider = signer.provider;
  if (!provider) throw new Error('deployContracts needs a signer connected to a provider');

  let token: RewardToken;
  if (opts.token) {
    if ((await provider.getCode(opts.token)) === '0x') throw new Error(`no contract at token address ${opts.token}`);
    token = attach('RewardToken', opts.token, signer);
  } else {
    token = await deploy('RewardToken', signer, opts.initialSupply ?? DEFAULT_SUPPLY);
  }
  let claimVerifier: ClaimVerifier;
  if (opts.claimVerifier) {
    if ((await provider.getCode(opts.claimVerifier)) === '0x') throw new Error(`no contract at claim verifier address ${opts.claimVerifier}`);
    claimVerifier = attach('ClaimVerifier', opts.claimVerifier, signer);
  } else {
    // The distributor refuses a verifier address without code, and the registry's gas estimate runs
    // against the latest block, so the verifier must be mined before the registry is sent.
    claimVerifier = await deployClaimVerifier(signer, opts.zkKeysDir ?? (process.env.FL_ZK_KEYS || undefined));
  }
  // The registry only stores the token address, so it can be sent before the token is mined.
  const registry = await deploy(
    'CheckpointRegistry',
    signer,
    deployer,
    opts.coordinator ?? deployer,
    await token.getAddress(),
    await claimVerifier.getAddress(),
  );
  const [receipt] = await Promise.all([registry.deploymentTransaction()?.wait(), token.waitForDeployment()]);
  if (!receipt) throw new Error('registry deployment was not mined');

  const distributor = attach('RewardDistributor', await registry.distributor(), signer);
  const addresses = {
    registry: await registry.getAddress(),
    distributor: await distributor.getAddress(),
    token: await token.getAddress(),
    claimVerifier: await claimVerifier.getAddress(),
  };
  return { registry, distributor, token, claimVerifier, addresses, blockNumber: receipt.blockNumber };
}

const Hex32Key = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'a 0x-prefixed 32-byte hex private key');
const EthAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte hex address')
  .transform((a) => getAddress(a.toLowerCase()));

const CliEnv = z.object({ PRIVATE_KEY: Hex32Key });
const CliArgs = z.strictObject({
  rpc: z.string().url('--rpc must be a URL, e.g. http://127.0.0.1:8545'),
  token: EthAddress.optional(),
  'claim-verifier': EthAddress.optional(),
  coordinator: EthAddress.optional(),
  'zk-keys': z.string().min(1).optional(),
});

/** The CLI: commander for the flags and --help, zod for what the values must be. */
function parseCli(argv: string[], env: NodeJS.ProcessEnv) {
  const program = new Command('deploy')
    .description('deploy the registry, the reward distributor, the claim verifier and a reward token (unless given) to any EVM chain')
    .requiredOption('--rpc <url>', 'JSON-RPC URL of the chain')
    .option('--token <address>', 'an existing ERC-20 to pay rewards in (default: deploy a RewardToken)')
    .option('--claim-verifier <address>', 'an existing ClaimVerifier (default: deploy the generated one)')
    .option('--coordinator <address>', 'the account given the coordinator role (default: the deployer)')
    .option('--zk-keys <folder>', 'deploy the claim verifier of this finalized setup ceremony (fl-ceremony); default: FL_ZK_KEYS, else the development verifier')
    .option('--json', 'accepted for uniformity: the result is always one JSON line on stdout', false)
    .addHelpText('after', '\nEnv: PRIVATE_KEY (0x + 64 hex) of the deployer, which pays the gas.\nOutput: {"chainId", "registry", "distributor", "token", "claimVerifier", "blockNumber"} as one JSON line.\nExit codes: 0 deployed; 1 usage, environment, RPC or transaction error.')
    .exitOverride()
    .parse(argv, { from: 'user' });
  const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
  const { json: _json, claimVerifier, zkKeys, ...rest } = program.opts<{ rpc: string; token?: string; claimVerifier?: string; coordinator?: string; zkKeys?: string; json: boolean }>();
  const args = CliArgs.safeParse({ ...rest, ...(claimVerifier ? { 'claim-verifier': claimVerifier } : {}), ...(zkKeys ? { 'zk-keys': zkKeys } : {}) });
  if (!args.success) throw new Error(`${issues(args.error)} (deploy --help lists the options)`);
  const envs = CliEnv.safeParse(env);
  if (!envs.success) throw new Error(`${issues(envs.error)} (deploy --help lists the options)`);
  return { ...args.data, privateKey: envs.data.PRIVATE_KEY };
}

async function main() {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2), process.env);
  } catch (e) {
    // commander has printed its own message (or the help) already.
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 1);
    console.error(`deploy: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  await buildContracts({ quiet: true });
  const provider = rpcProvider(cli.rpc);
  try {
    const signer = managedSigner(cli.privateKey, provider);
    const d = await deployContracts(signer, { token: cli.token, claimVerifier: cli['claim-verifier'], coordinator: cli.coordinator, ...(cli['zk-keys'] ? { zkKeysDir: cli['zk-keys'] } : {}) });
    const { chainId } = await provider.getNetwork();
    console.log(JSON.stringify({ chainId: Number(chainId), ...d.addresses, blockNumber: d.blockNumber }));
  } finally {
    provider.destroy();
  }
}

if (isEntryPoint(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`deploy: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
