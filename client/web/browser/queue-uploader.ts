import type { RedisTarget } from '../../../protocol/redis-target.ts';
import type { Uploader } from '../../upload/uploader.ts';

/**
 * The page's stand-in for client/upload/queue-uploader.ts: a page cannot reach Redis, so it always
 * uploads over HTTP (PUT …/updates, into the same queue). Asking for the queue path is a mistake
 * in the page's own code, and says so.
 */
export function queueUploader(_target: string | RedisTarget, _prefix: string): Uploader {
  throw new Error('a browser page cannot upload through Redis: use the HTTP upload');
}
