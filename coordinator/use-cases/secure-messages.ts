import type { z } from 'zod';
import type { Task } from '../../protocol/index.ts';
import {
  advertProofStatement,
  checkAdvert,
  checkBundle,
  checkConfirmation,
  confirmationHashes,
  checkReveal,
  Confirmation,
  KeyAdvert,
  maskGraph,
  Reveal,
  SecAggFault,
  ShareBundle,
  type SecAggScope,
} from '../../protocol/secagg/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import type { RoundHead } from '../store/round-repo.ts';
import type { SecureMessageKind } from '../store/secure-repo.ts';
import { parseOr400 } from './parse.ts';
import { verifyMembership } from '../../protocol/zk/proofs.ts';
import { metrics, timed } from '../metrics.ts';

const SCHEMA: Record<SecureMessageKind, z.ZodType> = { keys: KeyAdvert, shares: ShareBundle, consistency: Confirmation, reveal: Reveal };
const PHASE: Record<SecureMessageKind, string> = { keys: 'keys', shares: 'shares', consistency: 'consistency', reveal: 'unmask' };

export interface SecureSubmitOutcome {
  accepted: true;
  kind: SecureMessageKind;
  /** Reveals: shares whose revealed key did not open them (recorded as BAD_SHARE rejections). */
  refusedShares?: { dealer: string; reason: string }[];
}

/**
 * Takes one signed protocol message of a secure round (POST …/secure/keys|shares|consistency|reveal): parsed with
 * zod, checked against the round's phase and parties and its signature, then stored once. A fault
 * in a message whose sender is known (registered and the signature its own) is also recorded on the
 * round as a rejection with its reason, so a client that deals malformed shares is excluded in
 * public; a reveal key that does not open its share is refused alone and recorded as BAD_SHARE.
 */
export async function submitSecureMessage(ctx: CoordinatorContext, task: number, round: number, kind: SecureMessageKind, body: unknown): Promise<SecureSubmitOutcome> {
  const t = await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  if (!t.secure) throw new AppError('NOT_SECURE', 409, `task ${task} does not use secure aggregation`);
  const head = await ctx.rounds.head(task, round);
  if (!head) throw notFound(`round ${round} of task ${task}`);
  const msg = parseOr400(SCHEMA[kind], body, `${kind} message`) as KeyAdvert | ShareBundle | Confirmation | Reveal;
  if (msg.task !== task || msg.round !== round) throw new AppError('VALIDATION_FAILED', 400, `the message is for round ${msg.round} of task ${msg.task}, posted to round ${round} of task ${task}`);
  checkPhase(head, kind);
  const anonymous = t.privacy === 'private';
  if (anonymous !== (msg.client.length === 66)) {
    throw new AppError('WRONG_MODE', 400, anonymous ? `task ${task} is private: a member is named by its nullifier of the round, not an address` : `task ${task} is public: a client is named by its registered wallet`);
  }
  // Public tasks: a registered wallet. Private tasks: the advert proves membership (below), and
  // every later message must be signed by the fresh signer that advert named.
  if (!anonymous && !(await ctx.tasks.isClient(task, msg.client))) throw new AppError('UNKNOWN_CLIENT', 403, `${msg.client} is not registered for task ${task}`);
  const scope: SecAggScope = { chainId: ctx.domain.chainId, task, round };
  let refusedShares: SecureSubmitOutcome['refusedShares'];
  try {
    if (kind === 'keys') {
      checkAdvert(ctx.domain, scope, msg as KeyAdvert);
      if (anonymous) await checkAdvertProof(ctx, head, msg as KeyAdvert);
    } else if (kind === 'shares') {
      const adverts = await advertsOf(ctx, task, round);
      checkBundle(ctx.domain, scope, adverts, maskGraph(scope, [...adverts.keys()], t.secure.neighbours), msg as ShareBundle);
    } else if (kind === 'consistency') {
      const survivors = await survivorsOf(ctx, task, round);
      const adverts = await advertsOf(ctx, task, round);
      checkConfirmation(ctx.domain, scope, adverts, survivors, confirmationHashes(adverts, survivors), msg as Confirmation);
    } else {
      // Only a client that confirmed the list reveals: an honest one never reveals before it has.
      if (!(await ctx.secure.has(task, round, 'consistency', msg.client))) throw new SecAggFault('NOT_CONFIRMED', `${msg.client} did not confirm the survivor list in the consistency phase`, `reveal/${msg.client}`);
      refusedShares = (await checkRevealNow(ctx, scope, t.secure.neighbours, msg as Reveal)).map((r) => ({ dealer: r.dealer, reason: r.reason }));
    }
  } catch (e) {
    if (!(e instanceof SecAggFault)) throw e;
    // A forged, unproven or misdirected message names a client that did not send it: nothing to record of it.
    if (e.code !== 'BAD_SIGNATURE' && e.code !== 'WRONG_ROUND' && e.code !== 'BAD_PROOF' && e.code !== 'BAD_ADVERT') await recordFault(ctx, t, round, kind, msg.client, e.code, e.message);
    throw new AppError(e.code, 400, `${kind} message refused (${e.artefact}): ${e.message}`);
  }
  const max = kind === 'keys' ? head.cfg.maxClients : 0;
  const r = await ctx.secure.submit(task, round, kind, msg.client, JSON.stringify(msg), max);
  if (r === 'phase') throw new AppError('WRONG_PHASE', 409, `round ${round} left its ${PHASE[kind]} phase while the message was checked`);
  if (r === 'duplicate') throw new AppError('DUPLICATE', 409, `${msg.client} already sent its ${kind} message for round ${round}`);
  if (r === 'full') throw new AppError('ROUND_FULL', 409, `round ${round} already has ${max} clients`);
  for (const s of refusedShares ?? []) await recordFault(ctx, t, round, `share:${s.dealer}`, msg.client, 'BAD_SHARE', s.reason);
  if (kind !== 'keys') await ctx.redis.publish(ctx.keys.roundEvents, `${task}:${round}`);
  return { accepted: true, kind, ...(refusedShares?.length ? { refusedShares } : {}) };
}

function checkPhase(head: RoundHead, kind: SecureMessageKind): void {
  const phase = head.secure?.phase;
  if (head.state !== 'open' || phase !== PHASE[kind]) {
    throw new AppError('WRONG_PHASE', 409, `round ${head.round} is ${head.state === 'open' ? `in its ${phase} phase` : head.state}; ${kind} messages are taken in the ${PHASE[kind]} phase`);
  }
}

async function advertsOf(ctx: CoordinatorContext, task: number, round: number): Promise<Map<string, KeyAdvert>> {
  return new Map((await ctx.secure.messages(task, round, 'keys')).map(([c, j]) => [c, KeyAdvert.parse(JSON.parse(j))]));
}

/** The survivor list, ascending: fixed once the masked phase has ended. */
async function survivorsOf(ctx: CoordinatorContext, task: number, round: number): Promise<string[]> {
  return (await ctx.rounds.accepted(task, round)).map((a) => a.client as string).sort();
}

async function checkRevealNow(ctx: CoordinatorContext, scope: SecAggScope, neighbours: number | undefined, r: Reveal) {
  const bundles = new Map((await ctx.secure.messages(scope.task, scope.round, 'shares')).map(([c, j]) => [c, ShareBundle.parse(JSON.parse(j))]));
  const survivors = await survivorsOf(ctx, scope.task, scope.round);
  const adverts = await advertsOf(ctx, scope.task, scope.round);
  return checkReveal(ctx.domain, scope, { adverts, bundles, survivors, graph: maskGraph(scope, [...adverts.keys()], neighbours) }, r).refused;
}

/** A private advert's membership proof, against the members root the round opened with. */
async function checkAdvertProof(ctx: CoordinatorContext, head: RoundHead, a: KeyAdvert): Promise<void> {
  const root = head.cfg.membersRoot;
  if (!root) throw new SecAggFault('BAD_PROOF', `round ${head.round} has no members root`, `keys/${a.client}`);
  const ok = await timed(metrics.proofVerify, () => verifyMembership(advertProofStatement(ctx.domain, root, a), a.proof), (valid) => ({ valid: String(valid) }));
  if (!ok) throw new SecAggFault('BAD_PROOF', `the membership proof does not verify for this advert, nullifier and members root ${root}`, `keys/${a.client}`);
}

async function recordFault(ctx: CoordinatorContext, t: Task, round: number, what: string, client: string, code: string, reason: string): Promise<void> {
  const jobId = `secure:${what}:${client}`;
  await ctx.rounds.reject(t.id, round, jobId, { jobId, client, updateHash: 'none', code, reason, at: new Date(ctx.now()).toISOString() });
}

/** What a client needs to follow a secure round: its phase, the parties and their public keys. */
export async function secureRoundState(ctx: CoordinatorContext, task: number, round: number) {
  const t = await ctx.tasks.get(task);
  if (!t) throw notFound(`task ${task}`);
  if (!t.secure) throw new AppError('NOT_SECURE', 409, `task ${task} does not use secure aggregation`);
  const head = await ctx.rounds.head(task, round);
  if (!head || !head.secure) throw notFound(`secure round ${round} of task ${task}`);
  const phase = head.secure.phase;
  const adverts = (await ctx.secure.messages(task, round, 'keys')).map(([, j]) => KeyAdvert.parse(JSON.parse(j)));
  const sharers = await ctx.secure.clients(task, round, 'shares');
  // The survivor list is fixed once the masked phase ends; before that it is still growing.
  const fixed = phase === 'consistency' || phase === 'unmask' || phase === 'done';
  const survivors = fixed ? await survivorsOf(ctx, task, round) : null;
  // The confirmations are shown once their phase is over: each client checks them before it reveals.
  const confirmations = phase === 'unmask' || phase === 'done' ? (await ctx.secure.messages(task, round, 'consistency')).map(([, j]) => Confirmation.parse(JSON.parse(j))) : undefined;
  return {
    task,
    round,
    state: head.state,
    phase,
    phaseDeadline: new Date(head.secure.phaseDeadlineMs).toISOString(),
    threshold: head.secure.threshold,
    adverts,
    sharers,
    survivors,
    ...(confirmations ? { confirmations } : {}),
    revealers: await ctx.secure.clients(task, round, 'reveal'),
  };
}
