import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { labelOfPath, LocalDataError, parseCsv, pixelsToFeatures } from '../../client/web/local-data.ts';
import { keyFileText, parseKeyFile } from '../../client/web/page-store.ts';
import { loadOrCreateWallet } from '../../client/wallet-file.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The join page's parsing of a data owner's files, which decides what may be trained on.
describe('join page: local data', () => {
  const iris = { inputShape: [4], classes: 3 };

  test('a CSV with a header, blank lines and mixed separators parses row by row', () => {
    const d = parseCsv('a,b,c,d,label\n0.1,0.2,0.3,0.4,2\n\n1;2;3;4;0\r\n5\t6\t7\t8\t1\n', iris);
    assert.equal(d.n, 3);
    assert.deepEqual([...d.y], [2, 0, 1]);
    assert.deepEqual([...d.x.slice(4, 8)], [1, 2, 3, 4]);
  });

  test('a row of the wrong width, a bad number or label, or no rows is refused with a reason', () => {
    const code = (text: string, shape = iris) => {
      try {
        parseCsv(text, shape);
        return 'parsed';
      } catch (e) {
        assert.ok(e instanceof LocalDataError);
        return `${e.code}: ${e.message}`;
      }
    };
    assert.match(code('1,2,3,4,0\n1,2,3,0\n'), /^WRONG_SHAPE: row 2 has 3 features and a label, but this task takes 4 features/);
    assert.match(code('1,2,3,4,0', { inputShape: [28, 28, 1], classes: 10 }), /^WRONG_SHAPE: .*does not fit the task/);
    assert.match(code('1,x,3,4,0\n'), /^BAD_CSV: row 1, column 2: 'x'/);
    assert.match(code('1,2,3,4,3\n'), /^BAD_LABEL: row 1: label 3 is not a class/);
    assert.match(code('1,2,3,4,1.5\n'), /^BAD_LABEL/);
    assert.match(code('\n\n'), /^EMPTY/);
  });

  test('image labels come from the folder or the leading digits of the name', () => {
    assert.equal(labelOfPath('digits/7/a.png'), 7);
    assert.equal(labelOfPath('3_scan.png'), 3);
    assert.equal(labelOfPath('12-x.jpg'), 12);
    assert.equal(labelOfPath('scan.png'), null);
  });

  test('pixels become grey or RGB features in [0, 1]', () => {
    const rgba = Uint8ClampedArray.from([255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 255, 0, 51, 0, 255]);
    const grey = new Float32Array(4);
    pixelsToFeatures(rgba, { inputShape: [2, 2, 1], classes: 2 }, grey, 0);
    assert.deepEqual([...grey].map((v) => +v.toFixed(4)), [1, 0, 0.3333, 0.0667]);
    const rgb = new Float32Array(12);
    pixelsToFeatures(rgba, { inputShape: [2, 2, 3], classes: 2 }, rgb, 0);
    assert.deepEqual([...rgb.slice(6, 9)], [1, 0, 0]);
    assert.throws(() => pixelsToFeatures(rgba, { inputShape: [4], classes: 2 }, grey, 0), /not images: load a CSV/);
  });

  test('a key exported by the page is a key file fl-client reads, and back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-key-'));
    try {
      const { wallet } = loadOrCreateWallet(join(dir, 'cli.key'), {});
      const fromCli = parseKeyFile(`${wallet.privateKey}\n`);
      assert.equal(fromCli.address, wallet.address);
      writeFileSync(join(dir, 'page.key'), keyFileText(fromCli));
      assert.equal(loadOrCreateWallet(join(dir, 'page.key'), {}).wallet.address, wallet.address);
      assert.throws(() => parseKeyFile('not a key'), /one 0x-prefixed 32-byte hex private key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
