import { existsSync } from 'node:fs';
import type { Provider } from 'ethers';
import { deployedBytecode } from '../../contracts/artifacts.ts';
import { compileStandalone } from '../../contracts/compile.ts';
import { filePath, verifierSource, VERIFIER_CONTRACT, verifyCeremony } from '../../circuits/ceremony/ceremony.ts';
import { CeremonyError } from '../../circuits/ceremony/transcript.ts';
import { activeKeySet, ceremonyKeySet, type ZkKeySet } from '../../circuits/key-set.ts';
import type { ZkKeysPin } from '../../protocol/checkpoint-format.ts';

/**
 * The zero-knowledge keys of a private task, checked from what it pinned at creation (the genesis
 * checkpoint, so the chain's TaskCreated commits them):
 *
 * - keys: the keys this audit verifies proofs with hash to the pinned verification keys. For a
 *   ceremony, the transcript hashes to the pin and every contribution, the beacon and the final keys
 *   verify (circuits/ceremony verifyCeremony, from the r1cs and the ptau); a development pin is
 *   reported as such (a public beacon only: anyone could forge proofs).
 * - verifier: the claim verifier the distributor calls has exactly the bytecode of the verifier that
 *   the pinned claim key gives (regenerated from the verified final key and compiled here).
 */
export interface ZkKeysCheckOptions {
  pin: ZkKeysPin;
  /** A finalized ceremony folder (fl-ceremony fetch makes one from a coordinator); else FL_ZK_KEYS or the development keys. */
  keysDir?: string;
  ptau: string;
  /** A phase-1 ceremony folder (fl-ceremony ptau): re-verified, and its final.ptau must be the one the phase-2 ceremony used. */
  ptauCeremony?: string;
  provider: Provider;
  claimVerifier: string;
  blockTag: number;
}

export interface ZkKeysCheck {
  keys: { ok: boolean; detail: string };
  verifier: { ok: boolean; detail: string };
}

const short = (h: string | null): string => (h ? `${h.slice(0, 10)}…` : 'none');

export async function checkZkKeys(o: ZkKeysCheckOptions): Promise<ZkKeysCheck> {
  let keys: ZkKeySet;
  try {
    keys = o.keysDir ? ceremonyKeySet(o.keysDir) : activeKeySet();
  } catch (e) {
    const detail = e instanceof CeremonyError ? `${e.code}: ${e.message}` : String(e);
    return { keys: { ok: false, detail: `the ceremony keys cannot be read: ${detail}` }, verifier: { ok: false, detail: 'not checked: no keys' } };
  }
  const code = (await o.provider.getCode(o.claimVerifier, o.blockTag)).toLowerCase();
  const pinned = o.pin.kind === 'ceremony' ? `ceremony ${short(o.pin.transcript)} (${o.pin.contributors} contributors)` : 'development keys';
  const mismatch: string[] = [];
  if (keys.vkeyHash('membership') !== o.pin.membershipVkey) mismatch.push(`membership key ${short(keys.vkeyHash('membership'))} is not the pinned ${short(o.pin.membershipVkey)}`);
  if (keys.vkeyHash('claim') !== o.pin.claimVkey) mismatch.push(`claim key ${short(keys.vkeyHash('claim'))} is not the pinned ${short(o.pin.claimVkey)}`);
  if (keys.transcriptHash !== o.pin.transcript) mismatch.push(`transcript ${short(keys.transcriptHash)} is not the pinned ${short(o.pin.transcript)}`);
  if (mismatch.length) {
    const hint = o.pin.kind === 'ceremony' && keys.kind === 'development' ? ' (give the ceremony folder: fl-audit --zk-keys DIR, made by fl-ceremony fetch)' : '';
    return { keys: { ok: false, detail: `the task pins ${pinned}, but ${mismatch.join('; ')}${hint}` }, verifier: { ok: false, detail: 'not checked: keys do not match the pin' } };
  }

  if (keys.kind === 'development') {
    const ok = code === deployedBytecode('ClaimVerifier').toLowerCase();
    return {
      keys: { ok: true, detail: 'development keys (a public beacon only: anyone can forge membership and claim proofs; fine for demos, not for value)' },
      verifier: { ok, detail: ok ? `claim verifier ${o.claimVerifier} is the build's development verifier` : `claim verifier ${o.claimVerifier} is not the development claim verifier` },
    };
  }

  let ptau = o.ptau;
  let phase1 = '';
  if (o.ptauCeremony) {
    const { checkPhase1For } = await import('../../circuits/ceremony/phase1.ts');
    const p1 = await checkPhase1For(o.ptauCeremony, keys.transcript!.ptau.sha256, o.provider);
    if (!p1.ok) return { keys: { ok: false, detail: p1.detail }, verifier: { ok: false, detail: 'not checked: phase 1 does not hold' } };
    ptau = p1.ptau;
    phase1 = `; ${p1.detail}`;
  }
  const report = await verifyCeremony({ dir: keys.dir!, ptau, transcript: keys.transcript!, provider: o.provider });
  if (!report.ok) return { keys: { ok: false, detail: `ceremony ${short(report.transcriptHash)}: ${report.failure!.at}: ${report.failure!.reason}` }, verifier: { ok: false, detail: 'not checked: the ceremony does not verify' } };
  const names = report.contributors.map((c) => c.name).join(', ');
  const finalClaim = keys.transcript!.final!.claim!.zkey;
  const zkey = filePath(keys.dir!, finalClaim);
  let verifier: ZkKeysCheck['verifier'];
  if (!existsSync(zkey)) verifier = { ok: false, detail: `the ceremony's final claim key ${finalClaim} is missing` };
  else {
    const compiled = await compileStandalone(`${VERIFIER_CONTRACT.claim}.sol`, await verifierSource(zkey, 'claim'), VERIFIER_CONTRACT.claim);
    const ok = code === compiled.deployedBytecode.toLowerCase();
    verifier = { ok, detail: ok ? `claim verifier ${o.claimVerifier} is the ceremony's claim key, compiled here` : `claim verifier ${o.claimVerifier} does not run the ceremony's claim key (its bytecode differs from the verifier regenerated from the final key)` };
  }
  return {
    keys: { ok: true, detail: `ceremony ${short(report.transcriptHash)}: ${report.contributors.length} contributions (${names}) and the beacon (${report.beacon!.source}) verify from the r1cs and ptau; final keys are the pinned ones; ${report.beacon!.check ?? 'the beacon names no block'}${phase1}` },
    verifier,
  };
}
