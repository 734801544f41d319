import { hashToField, updateDigest, type Eip712Domain, type PrivateUpdateJob } from '../../protocol/index.ts';
import { verifyMembership } from '../../protocol/zk/proofs.ts';
import { metrics, timed } from '../metrics.ts';

/**
 * Whether a private update's Groth16 proof shows that an admitted member (behind `membersRoot`,
 * the round's snapshot) sent exactly this update under this nullifier. The EIP-712 digest of the
 * Update binds task, round, base, update hash and sample count, so no field can be swapped.
 */
export function verifyUpdateProof(domain: Eip712Domain, membersRoot: string, job: Omit<PrivateUpdateJob, 'via' | 'submittedAt'>): Promise<boolean> {
  const digest = updateDigest(domain, { task: job.task, round: job.round, baseHash: job.baseHash, updateHash: job.updateHash, numSamples: job.numSamples });
  const statement = { membersRoot: BigInt(membersRoot), task: job.task, round: job.round, updateDigest: hashToField(digest), nullifier: BigInt(job.nullifier) };
  return timed(metrics.proofVerify, () => verifyMembership(statement, job.proof), (valid) => ({ valid: String(valid) }));
}
