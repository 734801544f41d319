import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createIdentity, type Identity } from '../protocol/zk/identity.ts';
import { formatIdentityFile, IdentityFileError, parseIdentityFile } from './identity-format.ts';

/**
 * Identity files on disk (the format and its checks are in identity-format.ts, which the browser
 * page shares): written with mode 0600 and never over an existing file.
 */

export { formatIdentityFile, IdentityFile, IDENTITY_FILE_VERSION, IdentityFileError, parseIdentityFile, type IdentityFileErrorCode } from './identity-format.ts';

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
