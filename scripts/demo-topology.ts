/**
 * `npm run demo -- --replicas N --workers M --store s3`: the multi-host layout (docs/deployment.md,
 * "Several hosts") on one machine. The demo's own coordinator is replica 1; replicas 2..N are
 * `npm start` processes and the M workers `npm run worker` processes, each with its own DATA_DIR,
 * sharing the demo's Redis prefix and chain. With `--store s3` all of them keep content in one bucket
 * of an S3 protocol server the demo starts (s3rver, a development dependency: a stand-in for S3 or
 * MinIO, listening on 127.0.0.1 only), and the closing audit reads that bucket instead of a coordinator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../coordinator/infra/redis-server.ts';
import type { ContentStoreConfig } from '../coordinator/config.ts';
import { startCoordinatorProcess, startWorkerProcess, type ServiceProcess } from './coordinator-process.ts';

export interface DemoBucket {
  /** The settings as an operator writes them (STORE, S3_*, AWS_*), for child processes. */
  env: Record<string, string>;
  config: ContentStoreConfig;
  /** fl-audit's arguments to read the bucket. */
  auditArgs: string[];
  stop(): Promise<void>;
}

export async function startDemoBucket(): Promise<DemoBucket> {
  // Loaded only here: a plain demo (and the production image) never needs it.
  const { default: S3rver } = await import('s3rver');
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const dir = mkdtempSync(join(tmpdir(), 'fl-demo-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's one account; the SDK's default credential chain reads these from the environment.
  const credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  Object.assign(process.env, credentials);
  const bucket = 'fl-demo';
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    env: { STORE: 's3', S3_BUCKET: bucket, S3_PREFIX: 'fl', S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: '1', ...credentials },
    config: { kind: 's3', bucket, prefix: 'fl', region: 'us-east-1', forcePathStyle: true, endpoint },
    auditArgs: ['--store', `s3://${bucket}/fl`, '--s3-endpoint', endpoint],
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface DemoProcesses {
  /** The extra replicas' base URLs (replica 1, the demo's own coordinator, not included). */
  urls: string[];
  stop(): Promise<void>;
}

/** Starts `replicas` more coordinators and `workers` workers as processes, each with its own DATA_DIR. */
export async function startDemoProcesses(o: { replicas: number; workers: number; env: Record<string, string> }): Promise<DemoProcesses> {
  const procs: ServiceProcess[] = [];
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'fl-demo-host-'));
    dirs.push(d);
    return d;
  };
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => p.kill());
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  const urls: string[] = [];
  try {
    for (let i = 0; i < o.workers; i++) procs.push(await startWorkerProcess({ ...o.env, DATA_DIR: dataDir() }));
    for (let i = 0; i < o.replicas; i++) {
      const c = await startCoordinatorProcess({ ...o.env, PORT: String(await freePort()), DATA_DIR: dataDir() });
      procs.push(c);
      urls.push(c.url);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { urls, stop };
}
