import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { CeremonyCircuit, ZkeySha256 } from '../../protocol/ceremony-api.ts';
import { AppError } from '../errors.ts';
import {
  acceptContribution,
  ceremonyFile,
  ceremonyState,
  finalizeHostedCeremony,
  receiveZkey,
  startCeremony,
  type CeremonyHost,
} from '../use-cases/ceremony-host.ts';
import { parseOr400 } from '../use-cases/parse.ts';

/**
 * The hosted setup ceremony (coordinator/use-cases/ceremony-host.ts): thin routes over it. A
 * contribution needs no account, so only starting and finalizing need the admin token.
 */

export interface CeremonyRouteOptions {
  /** The hosted ceremony; null: the routes answer 404 (an app built without a data directory). */
  host: CeremonyHost | null;
  admin: RequestHandler;
  json: RequestHandler;
  /** Per-client (here: per-IP) limit on uploads and submissions. */
  perClient: RequestHandler;
}

type Handler = (req: Request, res: Response) => Promise<void>;
const route = (h: Handler) => (req: Request, res: Response, next: NextFunction) => h(req, res).catch(next);

const FileParams = z.object({ sha256: ZkeySha256 });
const UploadParams = z.object({ circuit: CeremonyCircuit, sha256: ZkeySha256 });

export function mountCeremony(app: express.Express, o: CeremonyRouteOptions): void {
  const host = (): CeremonyHost => {
    if (!o.host) throw new AppError('NO_CEREMONY', 404, 'this coordinator hosts no ceremony');
    return o.host;
  };

  app.post('/v1/ceremony', o.admin, o.json, route(async (req, res) => {
    res.status(201).json(await startCeremony(host(), req.body));
  }));
  app.get('/v1/ceremony', route(async (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(ceremonyState(host()));
  }));
  // A file of the chain, by its SHA-256; the bytes behind a hash never change.
  app.get('/v1/ceremony/files/:sha256', route(async (req, res) => {
    const { sha256 } = parseOr400(FileParams, req.params, 'path');
    const file = ceremonyFile(host(), sha256);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String((await stat(file)).size));
    res.setHeader('etag', `"${sha256}"`);
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
    await pipeline(createReadStream(file), res);
  }));
  app.put('/v1/ceremony/contributions/:circuit/:sha256', o.perClient, route(async (req, res) => {
    const { circuit, sha256 } = parseOr400(UploadParams, req.params, 'path');
    if (!/^application\/octet-stream\b/.test(req.headers['content-type'] ?? '')) {
      req.resume();
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 415, 'send the zkey as application/octet-stream');
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    const r = await receiveZkey(host(), circuit, sha256, req, Number.isFinite(declared) ? declared : undefined);
    res.status(r.stored ? 201 : 200).json(r);
  }));
  app.post('/v1/ceremony/contributions', o.json, o.perClient, route(async (req, res) => {
    res.status(201).json(await acceptContribution(host(), req.body));
  }));
  app.post('/v1/ceremony/finalize', o.admin, o.json, route(async (req, res) => {
    res.json(await finalizeHostedCeremony(host(), req.body));
  }));
}
