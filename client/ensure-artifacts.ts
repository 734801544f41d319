import { loadArtifact } from '../contracts/artifacts.ts';

/**
 * The contract ABIs come from the build's artefacts (contracts/out); builds them (a no-op when
 * current) when missing, as in a fresh clone. The compiler is loaded only then.
 */
export async function ensureContractArtifacts(): Promise<void> {
  try {
    loadArtifact('CheckpointRegistry');
    loadArtifact('RewardDistributor');
  } catch {
    const { buildContracts } = await import('../contracts/build.ts');
    await buildContracts({ quiet: true });
  }
}
