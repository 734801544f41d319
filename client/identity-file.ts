import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { createIdentity, identityFromSecret, serializeIdentity, type Identity } from '../protocol/zk/identity.ts';
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

/** Reads and checks an identity file (IdentityFileError on any problem). */
export function readIdentityFile(path: string): Identity {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IdentityFileError('NOT_FOUND', path, `${path} does not exist (create an identity with \`fl-client identity new --out ${path}\`)`);
    throw new IdentityFileError('UNREADABLE', path, `${path} cannot be read: ${(e as Error).message}`);
  }
  return parseIdentityFile(text, path);
}

/**
 * Writes `id` to a new file with mode 0600; refuses (EXISTS) when the path exists, so an identity,
 * and the membership and rewards behind it, is never overwritten.
 */
export function writeIdentityFile(path: string, id: Identity): void {
  try {
    writeFileSync(path, formatIdentityFile(id), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new IdentityFileError('EXISTS', path, `${path} already exists: refusing to overwrite an identity (its secret is the only key to its membership and rewards)`);
    throw new IdentityFileError('UNWRITABLE', path, `${path} cannot be written: ${(e as Error).message}`);
  }
  // The umask can only clear bits of 0600, but a file system may ignore the mode: insist.
  chmodSync(path, 0o600);
}

/** A fresh random identity, written to `path` (see writeIdentityFile). */
export function createIdentityFile(path: string): Identity {
  const id = createIdentity();
  writeIdentityFile(path, id);
  return id;
}

/** A warning when the file is readable or writable by group or others; null otherwise (and on Windows). */
export function identityFileWarning(path: string): string | null {
  if (process.platform === 'win32') return null;
  try {
    const mode = statSync(path).mode & 0o777;
    return mode & 0o077 ? `${path} has mode 0${mode.toString(8)}: anyone who reads it owns the identity; run \`chmod 600 ${path}\`` : null;
  } catch {
    return null;
  }
}
