import assert from 'node:assert/strict';
import { ProtocolError } from '../../protocol/errors.ts';

/** Asserts that fn throws a ProtocolError with the given code (and, optionally, a message matching re). */
export function throwsProtocol(fn: () => unknown, code: string, re?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return true;
  });
}
