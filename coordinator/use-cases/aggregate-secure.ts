import { canonicalJson, type AcceptedUpdate, type Task } from '../../protocol/index.ts';
import type { SecureManifestBlock } from '../../protocol/manifest.ts';
import {
  addWords,
  checkTranscript,
  Confirmation,
  decodeMeanDelta,
  KeyAdvert,
  recoverSecrets,
  Reveal,
  SecAggFault,
  secureRoundThresholds,
  secureScale,
  ShareBundle,
  unmaskSum,
  wordsFromBytes,
  zeroWords,
  type SecureTranscript,
} from '../../protocol/secagg/index.ts';
import type { CoordinatorContext } from '../context.ts';
import type { RoundHead } from '../store/round-repo.ts';

export type SecureSum = { ok: true; meanDelta: Float32Array; block: SecureManifestBlock } | { ok: false; reason: string };

/**
 * The secure half of closing a round: builds the public transcript from the stored messages,
 * checks it and rebuilds the unmasking secrets exactly as the auditor will (protocol/secagg/
 * transcript.ts), sums the survivors' masked uploads (each read once, and archived: a masked
 * upload reveals nothing on its own), removes the masks and decodes the mean delta. The transcript
 * is stored content-addressed (kind 'transcripts'). Nothing unmasked is ever written anywhere.
 * A protocol fault (too few shares, a dealer whose shares do not rebuild its commitment) is
 * returned as the reason the round fails; it never yields a sum.
 */
export async function aggregateSecure(ctx: CoordinatorContext, t: Task, head: RoundHead, accepted: AcceptedUpdate[], archive: (hash: string, bytes: Uint8Array) => Promise<void>): Promise<SecureSum> {
  const cfg = t.secure;
  if (!cfg) throw new Error(`task ${t.id} is not secure`);
  const { task, round } = head;
  const parse = async <T>(kind: 'keys' | 'shares' | 'consistency' | 'reveal', schema: { parse(x: unknown): T }) => (await ctx.secure.messages(task, round, kind)).map(([, j]) => schema.parse(JSON.parse(j)));
  const adverts = await parse('keys', KeyAdvert);
  const transcript: SecureTranscript = {
    format: 2,
    task,
    round,
    threshold: head.secure?.threshold ?? 0,
    ...(cfg.neighbours !== undefined ? { neighbours: cfg.neighbours } : {}),
    adverts,
    bundles: await parse('shares', ShareBundle),
    survivors: accepted.map((a) => a.client as `0x${string}`).sort(),
    survivorThreshold: secureRoundThresholds(cfg, adverts.length).survivors,
    confirmations: await parse('consistency', Confirmation),
    reveals: await parse('reveal', Reveal),
  };
  let checked: ReturnType<typeof checkTranscript>;
  let secrets: Awaited<ReturnType<typeof recoverSecrets>>;
  try {
    checked = checkTranscript(ctx.domain, transcript);
    secrets = await recoverSecrets(ctx.domain, checked);
  } catch (e) {
    if (e instanceof SecAggFault) return { ok: false, reason: `secure aggregation failed at ${e.artefact}: ${e.code}: ${e.message}` };
    throw e;
  }
  const sum = zeroWords(cfg.bits, t.params);
  for (const a of accepted) {
    const buf = await ctx.redis.getBuffer(ctx.keys.acceptedBlob(task, round, a.client));
    if (!buf) throw new Error(`accepted masked update of ${a.client} in round ${task}/${round} is missing`);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    await archive(a.updateHash, bytes.slice());
    addWords(sum, wordsFromBytes(cfg.bits, bytes.slice()));
  }
  unmaskSum(checked, secrets, cfg.bits, sum);
  const scale = secureScale(cfg);
  const transcriptHash = await ctx.store.put('transcripts', new TextEncoder().encode(canonicalJson(transcript)));
  return {
    ok: true,
    meanDelta: decodeMeanDelta(sum, cfg, scale, checked.survivors.length),
    block: { config: cfg, scale, threshold: transcript.threshold, transcriptHash, dropped: checked.dropped as `0x${string}`[], dim: t.params },
  };
}
