import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { contentHash, HEX32_RE } from '../../protocol/index.ts';
import { AppError } from '../errors.ts';
import type { ContentKind, ContentStore } from './content-store.ts';

/** Content-addressed files under a directory: <dir>/<kind>/<hh>/<hash>, written atomically. */
export function fsContentStore(dir: string): ContentStore {
  const pathOf = (kind: ContentKind, hash: string) => {
    // The hash may come from a URL: only a well-formed one may become a path.
    if (!HEX32_RE.test(hash)) throw new AppError('BAD_HASH', 400, `not a 32-byte lowercase hex hash: ${hash}`);
    return join(dir, kind, hash.slice(2, 4), hash);
  };
  /** Writes bytes under <kind>/<hash> unless that file exists: temp name, fsync, rename. */
  async function write(kind: ContentKind, hash: string, bytes: Uint8Array): Promise<void> {
    const path = pathOf(kind, hash);
    try {
      await stat(path);
      return;
    } catch {
      // not there yet
    }
    await mkdir(join(dir, kind, hash.slice(2, 4)), { recursive: true });
    // Write to a temp name, fsync, then rename: a crash never leaves a half file under a hash name.
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }
  return {
    async put(kind, bytes) {
      const hash = await contentHash(bytes);
      await write(kind, hash, bytes);
      return hash;
    },
    async putHashed(kind, bytes, hash) {
      await write(kind, hash, bytes);
    },
    async get(kind, hash) {
      let bytes: Buffer;
      try {
        bytes = await readFile(pathOf(kind, hash));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
      const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if ((await contentHash(u8)) !== hash) throw new AppError('STORE_CORRUPT', 500, `stored ${kind} ${hash} does not match its hash`);
      return u8;
    },
    async has(kind, hash) {
      try {
        await stat(pathOf(kind, hash));
        return true;
      } catch {
        return false;
      }
    },
  };
}
