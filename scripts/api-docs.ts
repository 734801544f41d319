/**
 * `npm run docs:api`: writes docs/api.md, the REST reference, from the coordinator's OpenAPI
 * document (coordinator/http/openapi.ts), so the reference cannot drift from the routes: a test
 * regenerates it and compares. `--check` exits 1 when docs/api.md is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { buildOpenApi } from '../coordinator/http/openapi.ts';

export const API_DOC = fileURLToPath(new URL('../docs/api.md', import.meta.url));

interface Op {
  summary?: string;
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; description?: string }[];
  requestBody?: { content: Record<string, { schema?: { $ref?: string } }> };
  responses: Record<string, { description?: string }>;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderApiDoc(): string {
  const doc = buildOpenApi() as { info: { title: string; version: string }; paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };
  const out: string[] = [
    `# REST API reference`,
    '',
    `Generated from the coordinator's OpenAPI 3.1 document (served at \`/v1/openapi.json\`) by \`npm run docs:api\`; do not edit by hand.`,
    `Every error is JSON: \`{"error": {"code", "message", "details?"}}\`. Admin routes need \`Authorization: Bearer $ADMIN_TOKEN\`.`,
    '',
    '| method | path | admin | summary |',
    '|---|---|---|---|',
  ];
  const ops: [string, string, Op][] = [];
  for (const [path, methods] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(methods)) ops.push([m.toUpperCase(), path, op]);
  for (const [m, path, op] of ops) out.push(`| ${m} | \`${path}\` | ${op.security ? 'yes' : ''} | ${cell(op.summary ?? '')} |`);
  for (const [m, path, op] of ops) {
    out.push('', `## ${m} ${path}`, '', op.summary ?? '', '');
    if (op.description) out.push(op.description, '');
    if (op.security) out.push('Needs the admin token.', '');
    const params = op.parameters ?? [];
    if (params.length) {
      out.push('| parameter | in | required | description |', '|---|---|---|---|');
      for (const p of params) out.push(`| \`${p.name}\` | ${p.in} | ${p.required ? 'yes' : 'no'} | ${cell(p.description ?? '')} |`);
      out.push('');
    }
    if (op.requestBody) {
      for (const [type, c] of Object.entries(op.requestBody.content)) {
        const ref = c.schema?.$ref?.split('/').pop();
        out.push(`Body: \`${type}\`${ref ? `, schema \`${ref}\` (below)` : ''}.`, '');
      }
    }
    out.push('| status | meaning |', '|---|---|');
    for (const [status, r] of Object.entries(op.responses)) out.push(`| ${status} | ${cell(r.description ?? '')} |`);
  }
  out.push('', '## Schemas', '', 'JSON Schema 2020-12, generated from the zod schemas the routes parse with.');
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    out.push('', `### ${name}`, '', '```json', JSON.stringify(schema, null, 2), '```');
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = new Command('docs:api')
    .description('write docs/api.md, the REST reference, from the coordinator\'s OpenAPI document')
    .option('--check', 'write nothing; exit 1 when docs/api.md is stale', false)
    .option('--json', 'print {"file", "stale"|"written"} as one JSON line', false)
    .addHelpText('after', '\nExit codes: 0 written (or, with --check, current); 1 stale with --check, or a usage error.')
    .parse()
    .opts<{ check: boolean; json: boolean }>();
  const fresh = renderApiDoc();
  if (o.check) {
    let current = '';
    try {
      current = readFileSync(API_DOC, 'utf8');
    } catch {
      // missing: stale
    }
    const stale = current !== fresh;
    if (o.json) console.log(JSON.stringify({ file: API_DOC, stale }));
    if (stale) {
      console.error('docs/api.md is stale: run `npm run docs:api`');
      process.exit(1);
    }
  } else {
    writeFileSync(API_DOC, fresh);
    console.log(o.json ? JSON.stringify({ file: API_DOC, written: true }) : `wrote ${API_DOC}`);
  }
}
