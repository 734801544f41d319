/**
 * A queue client that dies half-way through its upload: it writes its delta blob exactly as the
 * client library does (putDeltaBlob, TTL included) and is SIGKILLed before it adds the job.
 * Run by client-crash.test.ts as its own process; input is one JSON argument.
 */
import { Redis } from 'ioredis';
import { z } from 'zod';
import { putDeltaBlob } from '../../client/upload/queue-uploader.ts';

const Args = z.object({ redisUrl: z.string(), prefix: z.string(), sender: z.string(), updateHash: z.string(), deltaHex: z.string() });
const a = Args.parse(JSON.parse(process.argv[2] ?? ''));
const redis = new Redis(a.redisUrl);
await putDeltaBlob(redis, a.prefix, a.sender, a.updateHash, Buffer.from(a.deltaHex, 'hex'));
process.kill(process.pid, 'SIGKILL');
