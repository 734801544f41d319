import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createProgress, createStepProgress } from '../../client/progress.ts';

/** A stderr stand-in that records what is written and says whether it is a terminal. */
function sink(isTTY: boolean) {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(w, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream: w, text: () => text };
}

describe('progress output (docs/cli.md)', () => {
  test('steps on a terminal draw a bar with the step count and the step text', () => {
    const s = sink(true);
    const p = createStepProgress('circuits', 2, { stream: s.stream });
    p.step('membership compiled');
    p.step('claim compiled');
    p.done('built 2');
    assert.match(s.text(), /circuits/);
    assert.match(s.text(), /2\/2/);
    assert.match(s.text(), /built 2/);
  });

  test('off a terminal: no progress, only the summary line', () => {
    const s = sink(false);
    const p = createStepProgress('contracts', 3, { stream: s.stream });
    p.step('compiled');
    p.step('wrote');
    p.done('7 contracts');
    assert.equal(s.text(), 'contracts: 7 contracts\n');
  });

  test('--json and --quiet: nothing at all, for steps and for bars', () => {
    for (const mode of [{ json: true }, { quiet: true }]) {
      const s = sink(true);
      const p = createStepProgress('x', 1, { ...mode, stream: s.stream });
      p.step('a');
      p.done('b');
      const bar = createProgress({ json: true, stream: s.stream });
      bar.start('y', 2);
      bar.update(1);
      bar.stop('z');
      assert.equal(s.text(), '');
    }
  });

  test('a caller-supplied log gets every step as a line', () => {
    const lines: string[] = [];
    const p = createStepProgress('circuits', 2, { log: (l) => lines.push(l) });
    p.step('one');
    p.step('two');
    p.done('done');
    assert.deepEqual(lines, ['circuits: one', 'circuits: two', 'circuits: done']);
  });
});
