import type { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/**
 * A real S3 protocol server for tests (s3rver: the S3 REST API over a temp directory, on 127.0.0.1
 * and a free port). It knows one account, S3RVER/S3RVER, and refuses other access key ids; it does not
 * check SigV4 signatures, so a wrong secret is not caught here.
 */
export interface S3TestServer {
  endpoint: string;
  /** The account's keys as the AWS SDK's default chain reads them from the environment. */
  credentialsEnv: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
  /** A client with the account's keys, for tests to look at or change the bucket directly. */
  client: S3Client;
  /** Creates a fresh, uniquely named bucket and returns its name. */
  createBucket(): Promise<string>;
  /** Objects written (PUT) so far: what an idempotent put must not add to. */
  writes(): number;
  stop(): Promise<void>;
}

export async function startS3Server(): Promise<S3TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  let puts = 0;
  // s3rver is a Koa app and emits an S3 event notification for each object it creates.
  (server as unknown as EventEmitter).on('event', (e: { Records?: { eventName?: string }[] }) => {
    if (e.Records?.some((r) => r.eventName?.startsWith('ObjectCreated'))) puts++;
  });
  let address;
  try {
    address = await server.run();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentialsEnv = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: credentialsEnv.AWS_ACCESS_KEY_ID, secretAccessKey: credentialsEnv.AWS_SECRET_ACCESS_KEY },
  });
  let stopped = false;
  return {
    endpoint,
    credentialsEnv,
    client,
    async createBucket() {
      const name = `fl-test-${randomBytes(5).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    writes: () => puts,
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Puts the server's keys where the SDK's default credential chain finds them (the environment),
 * as an operator would; the returned function restores what was there before.
 */
export function useS3Credentials(s3: S3TestServer): () => void {
  const saved = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
  Object.assign(process.env, s3.credentialsEnv);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
