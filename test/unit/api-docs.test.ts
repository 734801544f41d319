import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { API_DOC, renderApiDoc } from '../../scripts/api-docs.ts';

test('docs/api.md is the reference generated from the OpenAPI document (npm run docs:api)', () => {
  assert.ok(readFileSync(API_DOC, 'utf8') === renderApiDoc(), 'docs/api.md is stale: run `npm run docs:api` and commit it');
});
