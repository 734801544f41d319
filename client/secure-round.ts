import { Wallet, type Signer } from 'ethers';
import { contentHash, signUpdate, type Round, type Task } from '../protocol/index.ts';
import {
  addWords,
  bytesFromWords,
  checkAdvert,
  quantiseDelta,
  SecAggParticipant,
  secureRandomBytes,
  secureDpParams,
  secAggDigest,
  secureRoundThresholds,
  secureScale,
  signSecAggMessage,
  type KeyAdvert,
  type SecAggScope,
} from '../protocol/secagg/index.ts';
import { CoordinatorError, type CoordinatorApi, type SecureRoundState } from './coordinator-api.ts';
import type { Uploader } from './upload/uploader.ts';
import { addSecureNoise } from './secure-noise.ts';

/** Why a client could not take part in a secure round (it missed a phase, or the coordinator misbehaved). */
export class SecureRoundError extends Error {
  constructor(
    readonly code: 'ROUND_MISSED' | 'NOT_SELECTED' | 'BAD_STATE',
    message: string,
  ) {
    super(message);
    this.name = 'SecureRoundError';
  }
}

export interface SecureContribution {
  updateHash: string;
  jobId: string;
  numSamples: number;
  loss: number;
  /** 'revealed': the client answered the unmasking; 'left': it dropped after uploading, as asked. */
  ended: 'revealed' | 'left' | 'round-ended';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PHASES = ['keys', 'shares', 'masked', 'consistency', 'unmask', 'done'] as const;

/**
 * A data owner's side of a secure round (docs/secure-mode.md), over the coordinator's REST API:
 *   keys   : post two fresh X25519 public keys (signed), and start training meanwhile;
 *   shares : check every advert's signature and the threshold, deal sealed shares of both secrets to
 *            the holders the round's graph gives (every advertiser, or the ring neighbours);
 *   masked : clip, scale and quantise the delta with the client's own randomness (plus its share of
 *            the DP noise), add the self-mask and pairwise masks, upload it like any update;
 *   consistency : sign the survivor list it is shown, once (SecAggParticipant.confirm refuses a second);
 *   unmask : check that enough survivors signed that same list, then reveal for it (reveal refuses
 *            any other list, and too few or forged confirmations).
 * The unmasked delta never leaves this function; the ephemeral secrets die with it.
 * `leaveAfterUpload` makes the client vanish after uploading, as a dropout would (demo and tests).
 */
export async function contributeSecurely(args: {
  api: CoordinatorApi;
  /** Public tasks: the registered wallet, which signs everything. */
  wallet?: Signer;
  /**
   * Private tasks: the member's proofs instead. proveAdvert proves membership bound to the key
   * advert's digest (and gives the round's nullifier); proveUpload binds the masked upload's
   * Update digest. A fresh wallet of this round signs the protocol messages.
   */
  member?: {
    nullifier: `0x${string}`;
    proveAdvert: (digest: string) => Promise<{ proof: string[]; nullifier: `0x${string}` }>;
    proveUpload: (msg: { task: number; round: number; baseHash: string; updateHash: string; numSamples: number }) => Promise<{ proof: string[]; nullifier: `0x${string}` }>;
    verifyAdvert: (advert: KeyAdvert) => Promise<boolean>;
  };
  uploader: Uploader;
  task: Task;
  round: Round;
  train: () => Promise<{ delta: Float32Array; numSamples: number; loss: number }>;
  pollMs: number;
  leaveAfterUpload?: boolean;
  onStage?: (stage: 'trained' | 'uploaded', bytes: number) => void;
}): Promise<SecureContribution> {
  const { api, task, round } = args;
  const cfg = task.secure;
  if (!cfg) throw new Error(`task ${task.id} is not secure`);
  if (!args.wallet && !args.member) throw new Error('a secure round needs a wallet (public task) or a member identity (private task)');
  // Private tasks: a fresh wallet of this round signs; the advert's proof ties it to the nullifier.
  const signer: Signer = args.wallet ?? Wallet.createRandom();
  const address = args.member ? args.member.nullifier : (await signer.getAddress()).toLowerCase();
  const scope: SecAggScope = { chainId: task.eip712.chainId, task: task.id, round: round.round };
  const me = new SecAggParticipant(scope, address);
  const post = async (kind: 'keys' | 'shares' | 'consistency' | 'reveal', body: { task: number; round: number }) => {
    try {
      const signed = await signSecAggMessage(signer, task.eip712, kind, body);
      if (kind === 'keys' && args.member) {
        const { proof, nullifier } = await args.member.proveAdvert(secAggDigest(task.eip712, 'keys', signed));
        if (nullifier !== address) throw new SecureRoundError('BAD_STATE', `the advert proof gives nullifier ${nullifier}, expected ${address}`);
        return await api.postSecure(task.id, round.round, kind, { ...signed, proof });
      }
      return await api.postSecure(task.id, round.round, kind, signed);
    } catch (e) {
      if (e instanceof CoordinatorError && e.code === 'WRONG_PHASE') throw new SecureRoundError('ROUND_MISSED', `round ${round.round} moved on before this client's ${kind} message: ${e.message}`);
      throw e;
    }
  };
  const waitFor = async (phase: (typeof PHASES)[number]): Promise<SecureRoundState> => {
    for (;;) {
      const s = await api.secureState(task.id, round.round);
      if (s.state !== 'open' && s.phase !== 'done') throw new SecureRoundError('ROUND_MISSED', `round ${round.round} is ${s.state}`);
      if (PHASES.indexOf(s.phase) >= PHASES.indexOf(phase)) return s;
      await sleep(args.pollMs);
    }
  };

  await post('keys', args.member ? { ...me.advert(), signer: (await signer.getAddress()).toLowerCase() as `0x${string}` } : me.advert());
  const training = args.train();
  // Keep an early training failure from surfacing as an unhandled rejection while we wait.
  training.catch(() => {});

  const afterKeys = await waitFor('shares');
  if (afterKeys.phase !== 'shares') throw new SecureRoundError('ROUND_MISSED', `round ${round.round} is past its shares phase`);
  const u1 = verifiedAdverts(task, scope, afterKeys.adverts);
  // Private tasks: every other advert must prove membership too, or the coordinator could pad the
  // round with parties of its own and push the honest clients under the threshold.
  if (args.member) {
    for (const a of u1) {
      if (a.client !== address && !(await args.member.verifyAdvert(a))) throw new SecureRoundError('BAD_STATE', `the coordinator relays an advert of ${a.client} whose membership proof does not verify`);
    }
  }
  const threshold = afterKeys.threshold;
  if (!threshold || !u1.some((a) => a.client === address)) throw new SecureRoundError('NOT_SELECTED', `${address} is not among the round's ${u1.length} key advertisers`);
  // The threshold follows from the task and the advertisers alone. A lower one would let fewer
  // colluders rebuild this client's secrets, so a coordinator announcing another is refused.
  const expected = secureRoundThresholds(cfg, u1.length);
  if (threshold !== expected.shares) throw new SecureRoundError('BAD_STATE', `the coordinator announces threshold ${threshold}; the task's rule gives ${expected.shares} for ${u1.length} advertisers`);
  await post('shares', await me.shareBundle(u1, threshold, cfg.neighbours));

  const trained = await training;
  const scale = secureScale(cfg);
  const dp = secureDpParams(cfg, scale, trained.delta.length);
  const quantised = quantiseDelta(trained.delta, cfg, scale, secureRandomBytes, dp?.l2Bound);
  // The noise is sized for the fewest survivors the round may close with, whatever the graph.
  if (cfg.dp) addWords(quantised, addSecureNoise(cfg, scale, expected.survivors, quantised.length));
  args.onStage?.('trained', (quantised.length * cfg.bits) / 8);

  const afterShares = await waitFor('masked');
  if (afterShares.phase !== 'masked') throw new SecureRoundError('ROUND_MISSED', `round ${round.round} is past its upload phase`);
  if (!(afterShares.sharers as string[]).includes(address)) throw new SecureRoundError('NOT_SELECTED', `the coordinator lists no shares from ${address}`);
  const u2 = u1.filter((a) => afterShares.sharers.includes(a.client));
  const bytes = bytesFromWords(me.maskInput(quantised, cfg.bits, u2));
  const updateHash = await contentHash(bytes);
  const msg = { task: task.id, round: round.round, baseHash: round.baseHash, updateHash, numSamples: trained.numSamples };
  let jobId: string;
  if (args.member) {
    const { proof, nullifier } = await args.member.proveUpload(msg);
    ({ jobId } = await args.uploader.uploadPrivate({ ...msg, nullifier, proof }, bytes));
  } else {
    const signature = await signUpdate(signer, task.eip712, msg);
    ({ jobId } = await args.uploader.upload({ ...msg, client: address, signature }, bytes));
  }
  args.onStage?.('uploaded', bytes.byteLength);
  const done = { updateHash, jobId, numSamples: trained.numSamples, loss: trained.loss };
  if (args.leaveAfterUpload) return { ...done, ended: 'left' };

  const afterUpload = await waitFor('consistency');
  if (afterUpload.phase !== 'consistency' || !afterUpload.survivors) return { ...done, ended: 'round-ended' };
  // confirm() refuses a list without this client, with strangers, or shorter than the threshold.
  await post('consistency', me.confirm(afterUpload.survivors, u2, threshold));
  const confirmed = await waitFor('unmask');
  if (confirmed.phase !== 'unmask' || !confirmed.survivors) return { ...done, ended: 'round-ended' };
  // Enough valid confirmations of this very list are all the protection needs: checking the first
  // `survivors` of them, not every one, keeps a client's signature checks to what the rule asks.
  const confirmations = confirmed.confirmations ?? [];
  await post('reveal', me.reveal(confirmed.survivors, u2, threshold, { domain: task.eip712, confirmations: confirmations.slice(0, expected.survivors), required: expected.survivors }));
  return { ...done, ended: 'revealed' };
}

/** The coordinator relays the adverts; each must be signed by the client it names, for this round. */
function verifiedAdverts(task: Task, scope: SecAggScope, adverts: KeyAdvert[]): KeyAdvert[] {
  for (const a of adverts) {
    try {
      checkAdvert(task.eip712, scope, a);
    } catch (e) {
      throw new SecureRoundError('BAD_STATE', `the coordinator relays a bad key advert: ${(e as Error).message}`);
    }
  }
  return [...adverts].sort((a, b) => (a.client < b.client ? -1 : 1));
}
