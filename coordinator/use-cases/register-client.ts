import { recoverRegistrationSigner, RegisterClientBody } from '../../protocol/index.ts';
import type { CoordinatorContext } from '../context.ts';
import { AppError, notFound } from '../errors.ts';
import { parseOr400 } from './parse.ts';

/** Admits a wallet to a task after it proves it holds the key (EIP-712 Registration signature). */
export async function registerClient(ctx: CoordinatorContext, task: number, body: unknown): Promise<{ address: string; created: boolean }> {
  const b = parseOr400(RegisterClientBody, body, 'registration');
  if (!(await ctx.tasks.get(task))) throw notFound(`task ${task}`);
  let signer: string;
  try {
    signer = recoverRegistrationSigner(ctx.domain, task, b.address, b.signature);
  } catch {
    throw new AppError('BAD_SIGNATURE', 400, 'registration signature is malformed');
  }
  if (signer !== b.address) throw new AppError('BAD_SIGNATURE', 400, `registration is signed by ${signer}, not by ${b.address}`);
  const created = await ctx.tasks.addClient(task, b.address);
  return { address: b.address, created };
}
