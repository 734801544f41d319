import { z } from 'zod';
import { identityFromSecret, serializeIdentity, type Identity } from '../protocol/zk/identity.ts';
import { SNARK_FIELD } from '../protocol/zk/field.ts';

/**
 * A private-task member's key file: the identity secret and its commitment, as decimal strings
 * (never JSON numbers, which lose precision past 2^53):
 *
 *   {"version":1,"secret":"123…","commitment":"456…"}
 *
 * Written with mode 0600 and never over an existing file (a lost secret is a lost membership and
 * lost rewards). Reading re-derives the commitment from the secret and refuses a file where the two
 * disagree, so a hand-edited or truncated file fails loudly instead of proving as someone else.
 */

export const IDENTITY_FILE_VERSION = 1;

const Decimal = z
  .string()
  .regex(/^[1-9][0-9]{0,76}$/, { message: 'a non-zero decimal integer string', abort: true })
  .refine((v) => BigInt(v) < SNARK_FIELD, 'below the BN254 field modulus');

export const IdentityFile = z.strictObject({
  version: z.literal(IDENTITY_FILE_VERSION),
  secret: Decimal,
  commitment: Decimal,
});
export type IdentityFile = z.infer<typeof IdentityFile>;

export type IdentityFileErrorCode = 'NOT_FOUND' | 'UNREADABLE' | 'BAD_JSON' | 'BAD_FORMAT' | 'COMMITMENT_MISMATCH' | 'EXISTS' | 'UNWRITABLE';

/** The identity file could not be read, is malformed, or (when writing) already exists. */
export class IdentityFileError extends Error {
  constructor(
    readonly code: IdentityFileErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityFileError';
  }
}

/** The file's JSON text (with a trailing newline). */
export function formatIdentityFile(id: Identity): string {
  return `${JSON.stringify({ version: IDENTITY_FILE_VERSION, ...serializeIdentity(id) })}\n`;
}

/** Parses an identity file's text; `path` only names it in errors. */
export function parseIdentityFile(text: string, path = 'identity file'): Identity {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new IdentityFileError('BAD_JSON', path, `${path} is not JSON: ${(e as Error).message}`);
  }
  const r = IdentityFile.safeParse(json);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new IdentityFileError('BAD_FORMAT', path, `${path} is not an identity file ({"version":1,"secret":"…","commitment":"…"}, decimal strings): ${why}`);
  }
  const id = identityFromSecret(BigInt(r.data.secret));
  if (id.commitment !== BigInt(r.data.commitment)) {
    throw new IdentityFileError('COMMITMENT_MISMATCH', path, `${path}: the commitment does not match the secret (Poseidon(secret) = ${id.commitment}); the file is damaged`);
  }
  return id;
}
