/**
 * Runs the test suites with node's own test runner (TypeScript through tsx).
 * Usage: tsx scripts/run-tests.ts [unit|integration|all] [extra node --test flags]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const suite = process.argv[2] ?? 'all';
const dirs = suite === 'all' ? ['test/unit', 'test/circuits', 'test/contracts', 'test/integration', 'test/fuzz', 'test/faults', 'test/deploy', 'test/e2e'] : [`test/${suite}`];

function collect(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = dirs.flatMap(collect);
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=300000', '--test-reporter=spec', ...process.argv.slice(3), ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
