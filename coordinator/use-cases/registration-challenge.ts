import { randomBytes } from 'node:crypto';
import { RegistrationChallenge, RegistrationChallengeBody } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';

/** How long a registration challenge stays valid when the config does not say (seconds). */
export const DEFAULT_CHALLENGE_TTL_S = 300;

/**
 * Issues a single-use challenge for an address to sign (EIP-712 Registration with this nonce and
 * expiry). Stored in Redis with the same lifetime, so any replica can check and consume it.
 */
export async function issueRegistrationChallenge(ctx: CoordinatorContext, task: number, body: unknown, ttlSeconds = DEFAULT_CHALLENGE_TTL_S): Promise<RegistrationChallenge> {
  const { address } = parseOr400(RegistrationChallengeBody, body, 'challenge request');
  if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
  const nonce = `0x${randomBytes(32).toString('hex')}`;
  const expiresAt = Math.floor(ctx.now() / 1000) + ttlSeconds;
  await ctx.redis.set(ctx.keys.registrationChallenge(task, address, nonce), String(expiresAt), 'EX', ttlSeconds);
  return RegistrationChallenge.parse({ task, address, nonce, expiresAt });
}
