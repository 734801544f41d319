import { recoverRegistrationSigner, RegisterClientBody } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';

/**
 * Admits a wallet to a task after it proves it holds the key: an EIP-712 Registration signature over
 * a challenge this coordinator issued (registration-challenge.ts). The challenge is consumed first
 * (GETDEL, atomic across replicas), so a registration can be submitted once, whatever its outcome.
 */
export async function registerClient(ctx: CoordinatorContext, task: number, body: unknown): Promise<{ address: string; created: boolean }> {
  const b = parseOr400(RegisterClientBody, body, 'registration');
  if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
  const stored = await ctx.redis.getdel(ctx.keys.registrationChallenge(task, b.address, b.nonce));
  if (stored === null || Number(stored) !== b.expiresAt) {
    throw new AppError('CHALLENGE_UNKNOWN', 400, `no outstanding challenge ${b.nonce} for ${b.address} on task ${task}: it was used, expired, or never issued; ask POST /v1/tasks/${task}/clients/challenge for a new one`);
  }
  if (b.expiresAt * 1000 < ctx.now()) throw new AppError('CHALLENGE_EXPIRED', 400, `the challenge expired at ${new Date(b.expiresAt * 1000).toISOString()}; ask for a new one`);
  let signer: string;
  try {
    signer = recoverRegistrationSigner(ctx.domain, { task, address: b.address, nonce: b.nonce, expiresAt: b.expiresAt }, b.signature);
  } catch {
    throw new AppError('BAD_SIGNATURE', 400, 'registration signature is malformed');
  }
  if (signer !== b.address) throw new AppError('BAD_SIGNATURE', 400, `registration is signed by ${signer}, not by ${b.address}`);
  const created = await ctx.tasks.addClient(task, b.address);
  return { address: b.address, created };
}
