import { Wallet } from 'ethers';
import { contentHash, Prng, signRegistration, signUpdate, type Task } from '../../protocol/index.ts';
import { encodeUpdate } from '../../client/federated-client.ts';
import type { CoordinatorContext } from '../../coordinator/context.ts';
import { queueUploader } from '../../client/upload/queue-uploader.ts';

/** A registered wallet that can produce signed random deltas for a task, without TensorFlow. */
export async function makeOwner(ctx: CoordinatorContext, task: Task, seed: number) {
  const wallet = Wallet.createRandom();
  // Straight through the use-cases' rules (challenge and signature checked) but without HTTP.
  const { registerClient } = await import('../../coordinator/use-cases/register-client.ts');
  const { issueRegistrationChallenge } = await import('../../coordinator/use-cases/registration-challenge.ts');
  const challenge = await issueRegistrationChallenge(ctx, task.id, { address: wallet.address });
  await registerClient(ctx, task.id, { address: challenge.address, nonce: challenge.nonce, expiresAt: challenge.expiresAt, signature: await signRegistration(wallet, task.eip712, challenge) });
  return {
    wallet,
    address: wallet.address.toLowerCase(),
    /**
     * A signed update for round/base with a seeded random delta of the task's size (or the one
     * given), in the task's wire codec; `rawBytes` signs and sends exactly those bytes instead.
     */
    async update(round: number, baseHash: string, numSamples = 10, scale = 0.01, given?: Float32Array, rawBytes?: Uint8Array) {
      const rng = new Prng(seed * 1000 + round);
      const delta = given ?? new Float32Array(task.params);
      if (!given) for (let i = 0; i < delta.length; i++) delta[i] = (rng.next() * 2 - 1) * scale;
      const bytes = rawBytes ?? (await encodeUpdate(task, delta));
      const updateHash = await contentHash(bytes);
      const signature = await signUpdate(wallet, task.eip712, { task: task.id, round, baseHash, updateHash, numSamples });
      return { delta, bytes, meta: { task: task.id, round, client: wallet.address.toLowerCase(), baseHash, updateHash, numSamples, signature } };
    },
  };
}

/** Uploads through Redis, as a client with queue access would. */
export async function queueUpload(redisUrl: string, prefix: string, u: Awaited<ReturnType<Awaited<ReturnType<typeof makeOwner>>['update']>>) {
  const up = queueUploader(redisUrl, prefix);
  try {
    return await up.upload(u.meta, u.bytes);
  } finally {
    await up.close();
  }
}
