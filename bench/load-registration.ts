import type { Wallet } from 'ethers';
import type { CoordinatorApi } from '../client/coordinator-api.ts';
import { signRegistration, type Task } from '../protocol/index.ts';

/** Registers one simulated client over the REST API, as a data owner's client does. */
export async function registerWallet(api: CoordinatorApi, task: Task, wallet: Wallet): Promise<void> {
  const challenge = await api.registrationChallenge(task.id, wallet.address);
  await api.register(task.id, challenge, await signRegistration(wallet, task.eip712, challenge));
}
