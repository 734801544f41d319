import { z } from 'zod';
import {
  AdmitMembersBody,
  AuditSummary,
  CreateTaskBody,
  HttpPrivateUpdateHeaders,
  MembersList,
  ErrorBody,
  HttpUpdateHeaders,
  OpenRoundBody,
  RegisterClientBody,
  RegistrationChallenge,
  RegistrationChallengeBody,
  Round,
  RoundEvaluation,
  StoredAudit,
  StoredEvaluation,
  Task,
} from '../../protocol/index.ts';
import { Confirmation, KeyAdvert, Reveal, ShareBundle } from '../../protocol/secagg/messages.ts';
import { AcceptedContribution, CeremonyState, ContributionBody, FinalizeCeremonyBody, StartCeremonyBody, UploadedZkey } from '../../protocol/ceremony-api.ts';

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the routes parse with. OpenAPI 3.1
 * schemas are JSON Schema 2020-12, which zod 4 emits itself (z.toJSONSchema), so no adapter library
 * is needed (zod-to-openapi 9.1 could not attach its .openapi() method to zod 4.6 schemas).
 */
const components = {
  Task, Round, Error: ErrorBody, CreateTaskBody, OpenRoundBody, RegisterClientBody, RegistrationChallengeBody, RegistrationChallenge, AdmitMembersBody, MembersList,
  RoundEvaluationBody: RoundEvaluation, StoredEvaluation, AuditSummaryBody: AuditSummary, StoredAudit,
  KeyAdvertBody: KeyAdvert, ShareBundleBody: ShareBundle, ConfirmationBody: Confirmation, RevealBody: Reveal,
  CeremonyState, StartCeremonyBody, ContributionBody, FinalizeCeremonyBody, AcceptedContribution, UploadedZkey,
} as const;

function schema(s: z.ZodType, io: 'input' | 'output') {
  const js = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete js.$schema;
  return js;
}

const ref = (name: keyof typeof components) => ({ $ref: `#/components/schemas/${name}` });
const json = (s: object, description: string) => ({ description, content: { 'application/json': { schema: s } } });
const err = (description: string) => json(ref('Error'), description);
const binary = { type: 'string', contentMediaType: 'application/octet-stream' };
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'integer', minimum: 1 } });
const taskParam = pathParam('task', 'task id');
const roundParam = pathParam('round', 'round number');
const admin = [{ adminToken: [] }];
const sha256Param = (description: string) => ({ name: 'sha256', in: 'path', required: true, description, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } });

export function buildOpenApi(): object {
  const schemas: Record<string, object> = {};
  for (const [name, s] of Object.entries(components)) {
    // Request bodies are described as clients send them (defaults optional), responses as sent back.
    schemas[name] = schema(s, name.endsWith('Body') ? 'input' : 'output');
  }
  // Public tasks send x-fl-client and x-fl-signature, private ones x-fl-nullifier and x-fl-proof;
  // the headers both send are required, the others only in their mode.
  const publicHeaders = (schema(HttpUpdateHeaders, 'input') as { properties: Record<string, object> }).properties;
  const privateHeaders = (schema(HttpPrivateUpdateHeaders, 'input') as { properties: Record<string, object> }).properties;
  const updateHeaders = [
    ...Object.entries(publicHeaders).map(([name, s]) => ({ name, in: 'header', required: name in privateHeaders, schema: s, ...(name in privateHeaders ? {} : { description: 'public tasks only' }) })),
    ...Object.entries(privateHeaders).filter(([name]) => !(name in publicHeaders)).map(([name, s]) => ({ name, in: 'header', required: false, schema: s, description: name === 'x-fl-proof' ? 'private tasks only: the Groth16 membership proof, 8 comma-separated decimals' : 'private tasks only' })),
  ];

  return {
    openapi: '3.1.0',
    info: { title: 'Verifiable federated-learning coordinator', version: '1' },
    components: { schemas, securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: "the coordinator's ADMIN_TOKEN" } } },
    paths: {
      '/': { get: { summary: 'Redirects to the dashboard (/dashboard/, a static page over this API)', responses: { 302: { description: 'to /dashboard/' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics: rounds by state, updates by outcome and reason, queue depth and wait, aggregation, chain and proof timings', responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/v1/health': { get: { summary: 'Liveness and Redis reachability', responses: { 200: { description: 'healthy' }, 503: { description: 'Redis unreachable' } } } },
      '/v1/chain': {
        get: {
          summary: 'Where this coordinator commits: chain id, an RPC URL, registry, distributor and token addresses, first block',
          responses: { 200: json({ type: 'object', properties: { chainId: { type: 'integer' }, rpcUrl: { type: 'string' }, registry: { type: 'string' }, distributor: { type: 'string' }, token: { type: 'string' }, fromBlock: { type: 'integer' } } }, 'chain info'), 404: err('no chain configured') },
        },
      },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
      '/v1/tasks': {
        post: {
          summary: 'Create a task and its genesis checkpoint', security: admin,
          requestBody: { required: true, content: { 'application/json': { schema: ref('CreateTaskBody') } } },
          responses: { 201: json(ref('Task'), 'created'), 400: err('invalid body'), 401: err('missing or wrong admin token') },
        },
        get: { summary: 'List tasks', responses: { 200: json({ type: 'object', properties: { tasks: { type: 'array', items: ref('Task') } } }, 'all tasks') } },
      },
      '/v1/tasks/{task}': { get: { summary: 'Get a task', parameters: [taskParam], responses: { 200: json(ref('Task'), 'the task'), 400: err('bad id'), 404: err('no such task') } } },
      '/v1/tasks/{task}/clients/challenge': {
        post: {
          summary: 'A single-use registration challenge (nonce, expiry) for an address to sign',
          parameters: [taskParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('RegistrationChallengeBody') } } },
          responses: { 201: json(ref('RegistrationChallenge'), 'the challenge'), 400: err('invalid body'), 404: err('no such task'), 429: err('over the per-client or per-IP rate limit (Retry-After)') },
        },
      },
      '/v1/tasks/{task}/clients': {
        post: {
          summary: 'Register a client wallet; the body answers a challenge with its EIP-712 Registration{task, client, nonce, expiresAt} signature (single use)',
          parameters: [taskParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('RegisterClientBody') } } },
          responses: { 201: { description: 'registered' }, 200: { description: 'already registered' }, 400: err('invalid body or signature'), 404: err('no such task'), 429: err('over the per-client or per-IP rate limit (Retry-After)') },
        },
      },
      '/v1/tasks/{task}/members': {
        post: {
          summary: "Admit identity commitments (Poseidon(secret)) to a private task's members tree, in order; duplicates are skipped",
          security: admin, parameters: [taskParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('AdmitMembersBody') } } },
          responses: {
            200: json({ type: 'object', properties: { task: { type: 'integer' }, admitted: { type: 'integer' }, count: { type: 'integer' }, root: { type: 'string' } } }, 'admitted: how many were new, the member count and the new root'),
            400: err('invalid body'), 401: err('missing or wrong admin token'), 404: err('no such task'), 409: err('the task is public, or its tree is full'),
          },
        },
        get: {
          summary: "A private task's admitted commitments in admission order, from which members build their Merkle paths",
          parameters: [taskParam],
          responses: { 200: json(ref('MembersList'), 'the members'), 404: err('no such task'), 409: err('the task is public') },
        },
      },
      '/v1/tasks/{task}/rounds': {
        post: {
          summary: 'Open the next round on the newest checkpoint', security: admin, parameters: [taskParam],
          requestBody: { content: { 'application/json': { schema: ref('OpenRoundBody') } } },
          responses: { 201: json(ref('Round'), 'opened'), 400: err('invalid body'), 401: err('missing or wrong admin token'), 404: err('no such task'), 409: err('a round is still running, or a private task has no members') },
        },
        get: {
          summary: 'The round timeline: the newest 200 rounds without their update lists (state, counts, checkpoint, manifest, reward, chain commit)',
          parameters: [taskParam],
          responses: { 200: json({ type: 'object', properties: { rounds: { type: 'array', items: { type: 'object' } } } }, 'round summaries, oldest first'), 404: err('no such task') },
        },
      },
      '/v1/tasks/{task}/rounds/{round}/evaluation': {
        post: {
          summary: "Report the test-set evaluation of an aggregated round's checkpoint (shown on the dashboard; a claim by the operator, naming the checkpoint so anyone can re-check it)",
          security: admin, parameters: [taskParam, roundParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('RoundEvaluationBody') } } },
          responses: { 201: json(ref('StoredEvaluation'), 'recorded'), 400: err('invalid body'), 401: err('missing or wrong admin token'), 404: err('no such round'), 409: err('the round has no checkpoint yet') },
        },
      },
      '/v1/tasks/{task}/evaluations': {
        get: { summary: 'Every reported evaluation of the task, by round', parameters: [taskParam], responses: { 200: json({ type: 'object', properties: { evaluations: { type: 'array', items: ref('StoredEvaluation') } } }, 'evaluations'), 404: err('no such task') } },
      },
      '/v1/tasks/{task}/audit': {
        post: {
          summary: 'Report the outcome of an fl-audit run of the task (shown on the dashboard)',
          security: admin, parameters: [taskParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('AuditSummaryBody') } } },
          responses: { 201: json(ref('StoredAudit'), 'recorded'), 400: err('invalid body'), 401: err('missing or wrong admin token'), 404: err('no such task') },
        },
        get: { summary: 'The latest reported audit of the task (null when none)', parameters: [taskParam], responses: { 200: json({ type: 'object', properties: { audit: { anyOf: [ref('StoredAudit'), { type: 'null' }] } } }, 'the audit'), 404: err('no such task') } },
      },
      '/v1/tasks/{task}/events': {
        get: {
          summary: "Server-sent events of the task: `snapshot` once, then `round` (the newest round's summary) when it changes and `reports` when an evaluation or audit arrives",
          parameters: [taskParam],
          responses: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, 404: err('no such task') },
        },
      },
      '/v1/tasks/{task}/rounds/current': { get: { summary: 'The newest round', parameters: [taskParam], responses: { 200: json(ref('Round'), 'the round'), 404: err('no such task, or no round yet') } } },
      '/v1/tasks/{task}/rounds/{round}': {
        get: { summary: 'Round status: state, deadline, counts, accepted updates, rejections with reasons', parameters: [taskParam, roundParam], responses: { 200: json(ref('Round'), 'the round'), 404: err('no such round') } },
      },
      '/v1/tasks/{task}/rounds/{round}/updates': {
        put: {
          summary: 'Upload a delta (little-endian float32, manifest order) with its signed (public task) or proven (private task) metadata in headers',
          description:
            'Checked in this order: headers (400), the sender: a registered wallet or a membership proof that verifies (403), before the body is read; ' +
            'then the body: at most the model\'s size (413), exactly its size (400 BAD_LENGTH), hashing to x-fl-update-hash (400 HASH_MISMATCH). ' +
            'A 202 means queued: the worker still judges signature, round, base, samples, values and norm.',
          parameters: [taskParam, roundParam, ...updateHeaders],
          requestBody: { required: true, content: { 'application/octet-stream': { schema: binary } } },
          responses: {
            202: json({ type: 'object', properties: { jobId: { type: 'string' }, updateHash: { type: 'string' } } }, 'queued: the worker accepts or rejects it; see the round status'),
            400: err('bad headers, length or hash'), 403: err('unregistered wallet, or a membership proof that does not verify'), 404: err('no such task or round'), 413: err('body larger than the model'), 415: err('not application/octet-stream'), 429: err('over the per-client or per-IP rate limit (Retry-After)'),
          },
        },
      },
      '/v1/tasks/{task}/rounds/{round}/secure': {
        get: {
          summary: "A secure round's protocol state: phase and its deadline, threshold, the signed key adverts, who dealt shares, the survivors (from the consistency phase on), the signed confirmations (from the unmask phase on) and who revealed",
          parameters: [taskParam, roundParam],
          responses: { 200: json({ type: 'object' }, 'the state'), 404: err('no such secure round'), 409: err('the task is not secure') },
        },
      },
      ...Object.fromEntries(
        ([
          ['keys', 'KeyAdvertBody', 'keys', 'Advertise the two ephemeral X25519 public keys of a client (signed SecAggMessage, kind "keys")'],
          ['shares', 'ShareBundleBody', 'shares', 'Deal sealed Shamir shares of the self-mask seed and the mask key to every advertiser, with the seed commitment (kind "shares")'],
          ['consistency', 'ConfirmationBody', 'consistency', 'Sign the survivor list the client was shown, by its hash (kind "consistency"); GET …/secure shows every confirmation from the unmask phase on, and a client reveals only after checking enough of them'],
          ['reveal', 'RevealBody', 'unmask', 'Answer the survivor list: for each survivor the key to its self-seed share, for each dropout the key to its mask-key share (kind "reveal"); only from a client that confirmed the list'],
        ] as const).map(([kind, body, phase, summary]) => [
          `/v1/tasks/{task}/rounds/{round}/secure/${kind}`,
          {
            post: {
              summary,
              description: `Taken in the ${phase} phase only, from a registered wallet, once. A fault in a message from its signer is recorded on the round as a rejection with its code and reason.`,
              parameters: [taskParam, roundParam],
              requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } },
              responses: {
                202: json({ type: 'object', properties: { accepted: { type: 'boolean' }, kind: { type: 'string' }, refusedShares: { type: 'array', items: { type: 'object' } } } }, 'stored'),
                400: err('malformed, wrongly signed, or a protocol fault (code and the artefact named)'), 403: err('unregistered wallet'), 404: err('no such task or round'), 409: err('not a secure task, the wrong phase, a second message, or the round is full'),
              },
            },
          },
        ]),
      ),
      '/v1/ceremony': {
        post: {
          summary: 'Start hosting a Groth16 phase-2 setup ceremony (fl-ceremony init, in the folder DATA_DIR/ceremony): the initial keys from the built circuits and the ptau (FL_PTAU)',
          security: admin,
          requestBody: { content: { 'application/json': { schema: ref('StartCeremonyBody') } } },
          responses: {
            201: json(ref('CeremonyState'), 'started'), 400: err('invalid body'), 401: err('missing or wrong admin token'), 409: err('a ceremony is hosted already, or the coordinator publishes its FL_ZK_KEYS ceremony (CEREMONY_EXISTS)'),
            503: err('the coordinator has no circuit build or no ptau file (CEREMONY_UNAVAILABLE)'),
          },
        },
        get: {
          summary: "The hosted ceremony: its transcript (ceremony.json), the transcript's keccak256, each circuit's latest file and whether it is finalized",
          description: 'A coordinator that hosts no ceremony but runs on ceremony keys (FL_ZK_KEYS) publishes that finalized ceremony here, read-only, so that fl-audit can fetch the ceremony a private task pins; POST routes then answer 409.',
          responses: { 200: json(ref('CeremonyState'), 'the ceremony'), 404: err('no ceremony hosted (NO_CEREMONY)') },
        },
      },
      '/v1/ceremony/files/{sha256}': {
        get: {
          summary: 'A zkey of the ceremony by its SHA-256: only files the transcript names (initial keys, accepted contributions, beacon outputs)',
          parameters: [sha256Param('SHA-256 of the file, 64 lowercase hex digits')],
          responses: { 200: { description: 'the zkey bytes', content: { 'application/octet-stream': { schema: binary } } }, 400: err('malformed hash'), 404: err('no ceremony, or a file the transcript does not name') },
        },
      },
      '/v1/ceremony/contributions/{circuit}/{sha256}': {
        put: {
          summary: 'Upload the new zkey of a contribution, before submitting it; stored under its SHA-256 only when the body hashes to the one in the path',
          description: 'No account needed. The file is not verified here but when a contribution names it (POST /v1/ceremony/contributions). Files never accepted stay stored but are never served.',
          parameters: [{ name: 'circuit', in: 'path', required: true, description: 'the circuit the key is for', schema: { type: 'string', enum: ['membership', 'claim'] } }, sha256Param('SHA-256 of the body')],
          requestBody: { required: true, content: { 'application/octet-stream': { schema: binary } } },
          responses: {
            201: json(ref('UploadedZkey'), 'stored'), 200: json(ref('UploadedZkey'), 'already stored'),
            400: err('the body does not hash to the path (FILE_MISMATCH), is no zkey (NOT_A_ZKEY), or a malformed path'), 404: err('no ceremony, or a circuit it does not cover'),
            409: err('the ceremony is finalized (FINALIZED)'), 413: err('over 64 MiB'), 415: err('not application/octet-stream'), 429: err('over the per-client or per-IP rate limit (Retry-After)'),
          },
        },
      },
      '/v1/ceremony/contributions': {
        post: {
          summary: "Submit a contribution: per circuit the file it was made on (the latest), the uploaded new file and snarkjs's contribution hash",
          description: 'No account needed. Verified on arrival (snarkjs checks the new key against the initial key and every earlier contribution) and accepted only in turn: one at a time, and only on the latest files.',
          requestBody: { required: true, content: { 'application/json': { schema: ref('ContributionBody') } } },
          responses: {
            201: json(ref('AcceptedContribution'), 'appended to the transcript'), 400: err('invalid body'), 404: err('no ceremony hosted'),
            409: err('made on a file that is no longer the latest (STALE_CONTRIBUTION: fetch and contribute again), or the ceremony is finalized (FINALIZED)'),
            422: err('a named file was not uploaded (MISSING_FILE), or the key does not verify, covers other circuits, or names another contributor or hash (BAD_CONTRIBUTION)'),
            429: err('over the per-client or per-IP rate limit (Retry-After)'),
          },
        },
      },
      '/v1/ceremony/finalize': {
        post: {
          summary: 'Finalize the hosted ceremony with a public beacon fixed after the last contribution: the final keys, verification keys and verifiers (fl-ceremony finalize)',
          description: '{"beaconBlock": N} takes the hash of block N of the coordinator\'s chain (announced before the last contribution; 400 BAD_BEACON while it is not mined, 409 NO_CHAIN without a chain) and records the block; {"beacon", "source"} takes a value from elsewhere.',
          security: admin,
          requestBody: { required: true, content: { 'application/json': { schema: ref('FinalizeCeremonyBody') } } },
          responses: {
            200: json(ref('CeremonyState'), 'finalized'), 400: err('invalid body, or the beacon block is not mined yet (BAD_BEACON)'), 401: err('missing or wrong admin token'), 404: err('no ceremony hosted'),
            409: err('finalized already (FINALIZED), or no contributions yet (NO_CONTRIBUTIONS), or beaconBlock without a chain (NO_CHAIN)'),
          },
        },
      },
      '/v1/transcripts/{hash}': {
        get: {
          summary: "A secure round's public protocol transcript by its keccak256 (protocol/secagg/transcript.ts): with the masked uploads, enough to unmask the sum again",
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string', pattern: '^0x[0-9a-f]{64}$' } }],
          responses: { 200: { description: 'canonical JSON', content: { 'application/json': { schema: { type: 'object' } } } }, 400: err('malformed hash'), 404: err('unknown hash'), 503: err('the content store (an S3 bucket with STORE=s3) cannot be reached (STORE_UNAVAILABLE)') },
        },
      },
      '/v1/validation-sets': {
        post: {
          summary: 'Store a validation set for the validation-gain rule (docs/contribution-scores.md); a task then names it in rewards.validation',
          security: admin,
          requestBody: { required: true, content: { 'application/octet-stream': { schema: binary } } },
          responses: {
            201: json({ type: 'object', properties: { hash: { type: 'string' }, samples: { type: 'integer' }, features: { type: 'integer' }, classes: { type: 'integer' } } }, 'stored under its keccak256'),
            400: err('not a validation set (FLVS bytes, protocol/scoring/validation-set.ts)'), 401: err('missing or wrong admin token'), 413: err('over 100 MiB'), 415: err('not application/octet-stream'),
          },
        },
      },
      '/v1/validation-sets/{hash}': {
        get: {
          summary: "A validation set by its keccak256: what a validation-gain task's scores are measured on, public so that auditors re-score",
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string', pattern: '^0x[0-9a-f]{64}$' } }],
          responses: { 200: { description: 'the FLVS bytes', content: { 'application/octet-stream': { schema: binary } } }, 400: err('malformed hash'), 404: err('unknown hash'), 503: err('the content store (an S3 bucket with STORE=s3) cannot be reached (STORE_UNAVAILABLE)') },
        },
      },
      '/v1/updates/{hash}': {
        get: {
          summary: 'An accepted delta, archived by its keccak256 when its round was aggregated (for re-aggregation by auditors)',
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string', pattern: '^0x[0-9a-f]{64}$' } }],
          responses: { 200: { description: 'the delta bytes (little-endian float32)', content: { 'application/octet-stream': { schema: binary } } }, 400: err('malformed hash'), 404: err('unknown hash'), 503: err('the content store (an S3 bucket with STORE=s3) cannot be reached (STORE_UNAVAILABLE)') },
        },
      },
      '/v1/manifests/{hash}': {
        get: {
          summary: "A round's contributions manifest by its keccak256: every update, its score and reward, and the rewards root",
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string', pattern: '^0x[0-9a-f]{64}$' } }],
          responses: { 200: { description: 'the manifest bytes (canonical JSON, see protocol/manifest.ts)', content: { 'application/json': { schema: { type: 'object' } } } }, 400: err('malformed hash'), 404: err('unknown hash'), 503: err('the content store (an S3 bucket with STORE=s3) cannot be reached (STORE_UNAVAILABLE)') },
        },
      },
      '/v1/checkpoints/{hash}': {
        get: {
          summary: 'Download a checkpoint by its keccak256',
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string', pattern: '^0x[0-9a-f]{64}$' } }],
          responses: { 200: { description: 'checkpoint bytes (see protocol/checkpoint-format.ts)', content: { 'application/octet-stream': { schema: binary } } }, 400: err('malformed hash'), 404: err('unknown hash'), 503: err('the content store (an S3 bucket with STORE=s3) cannot be reached (STORE_UNAVAILABLE)') },
        },
      },
    },
  };
}
