import type { Round } from '../protocol/index.ts';

/**
 * The worker's verdict on one upload, as the round lists it. `round`: in an async task, the buffer the
 * update was accepted into (a later one than it was trained for when it arrived stale).
 */
export type UpdateDecision = { status: 'accepted'; round?: number } | { status: 'rejected'; code: string; reason: string };

/** What names an upload in a round's lists: its job id, and for a private upload its nullifier (listed as `client`). */
export interface UploadRef {
  jobId: string;
  nullifier?: string | undefined;
  updateHash?: string | undefined;
}

/**
 * The decision on an upload as the round shows it, or null while it is still pending. Shared by the
 * CLI's client and the browser page, so both read a verdict the same way.
 */
export function decisionIn(r: Round, upload: UploadRef): UpdateDecision | null {
  const who = upload.nullifier?.toLowerCase();
  const hash = upload.updateHash?.toLowerCase();
  if (r.acceptedUpdates.some((u) => u.jobId === upload.jobId || (who !== undefined && u.client === who))) return { status: 'accepted' };
  const rej = r.rejections.find((x) => x.jobId === upload.jobId || (who !== undefined && x.client.toLowerCase() === who && (!hash || x.updateHash.toLowerCase() === hash)));
  return rej ? { status: 'rejected', code: rej.code, reason: rej.reason } : null;
}
