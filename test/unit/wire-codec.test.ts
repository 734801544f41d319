import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeWire, encodeWire, FLOAT32_WIRE, Prng, ProtocolError, roundingSource, wireBytes, WireCodec } from '../../protocol/index.ts';

const INT8 = WireCodec.parse({ codec: 'int8' }) as Extract<WireCodec, { codec: 'int8' }>;

function vector(n: number, seed: number, scale = 0.05): Float32Array {
  const p = new Prng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = p.normal() * scale * (i % 97 === 0 ? 20 : 1); // a few outliers
  return v;
}

const scaleOf = (bytes: Uint8Array, b: number) => new DataView(bytes.buffer, bytes.byteOffset).getFloat32(b * 4, true);

describe('wire codecs', () => {
  test('int8 costs 1 + 4/block bytes a parameter (1.0156 at the default block of 256)', () => {
    assert.equal(INT8.block, 256);
    assert.equal(wireBytes(INT8, 1_000_000), 1_000_000 + 4 * Math.ceil(1_000_000 / 256));
    assert.ok(wireBytes(INT8, 1_000_000) / 1_000_000 <= 1.05);
    assert.equal(wireBytes(FLOAT32_WIRE, 1000), 4000);
    assert.equal(encodeWire(INT8, vector(1000, 1), roundingSource(1)).length, wireBytes(INT8, 1000));
  });

  test('every decoded int8 value is within one scale step of the original, and a block\'s largest value keeps its size', () => {
    const n = 256 * 7 + 33; // a short last block
    const x = vector(n, 2);
    const bytes = encodeWire(INT8, x, roundingSource(9));
    const y = decodeWire(INT8, bytes, n);
    for (let b = 0; b < Math.ceil(n / 256); b++) {
      const scale = scaleOf(bytes, b);
      let max = 0;
      let at = 0;
      for (let i = b * 256; i < Math.min(n, (b + 1) * 256); i++) {
        assert.ok(Math.abs(y[i]! - x[i]!) <= scale * (1 + 1e-6), `value ${i}: ${y[i]} vs ${x[i]} (scale ${scale})`);
        assert.ok(Math.abs(y[i]!) <= 127 * scale * (1 + 1e-7));
        if (Math.abs(x[i]!) > max) (max = Math.abs(x[i]!)), (at = i);
      }
      assert.ok(scale * 127 >= max && Math.fround(max / 127) <= scale, `block ${b}: the scale covers the block's largest value`);
      assert.ok(Math.abs(y[at]!) >= 126 * scale, `block ${b}: its largest value is still near full scale`);
    }
  });

  test('stochastic rounding is unbiased: the mean over many encodings approaches the original', () => {
    const n = 512;
    const x = vector(n, 3);
    const sum = new Float64Array(n);
    const runs = 2000;
    let scale0 = 0;
    for (let r = 0; r < runs; r++) {
      const bytes = encodeWire(INT8, x, roundingSource(1000 + r));
      scale0 = Math.max(scale0, scaleOf(bytes, 0), scaleOf(bytes, 1));
      const y = decodeWire(INT8, bytes, n);
      for (let i = 0; i < n; i++) sum[i]! += y[i]!;
    }
    // Each draw errs by at most one step with variance <= step^2/4: the mean's sd is <= step / (2 sqrt(runs)).
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(sum[i]! / runs - x[i]!) / scale0);
    assert.ok(worst < 5 / (2 * Math.sqrt(runs)), `worst bias ${worst.toFixed(4)} steps over ${runs} encodings`);
    // Rounding to nearest would err the same way every time, by up to half a step: the fixed-point
    // error that averaging clients cannot remove, and that stochastic rounding does.
    const one = encodeWire(INT8, x, roundingSource(1));
    let nearestWorst = 0;
    for (let i = 0; i < n; i++) {
      const step = scaleOf(one, Math.floor(i / 256));
      nearestWorst = Math.max(nearestWorst, Math.abs(Math.round(x[i]! / step) * step - x[i]!) / scale0);
    }
    assert.ok(nearestWorst > 0.3 && worst < nearestWorst / 5, `nearest rounding errs by up to ${nearestWorst.toFixed(3)} steps, stochastic by ${worst.toFixed(4)} on average`);
  });

  test('the same seed gives the same bytes; decoding is q x scale rounded to float32, whoever runs it', () => {
    const x = vector(3000, 4);
    const a = encodeWire(INT8, x, roundingSource(77));
    assert.deepEqual(encodeWire(INT8, x, roundingSource(77)), a);
    assert.notDeepEqual(encodeWire(INT8, x, roundingSource(78)), a);
    const y = decodeWire(INT8, a, x.length);
    const blocks = Math.ceil(x.length / 256);
    const q = new Int8Array(a.buffer, a.byteOffset + blocks * 4, x.length);
    for (let i = 0; i < x.length; i++) assert.equal(y[i], Math.fround(q[i]! * scaleOf(a, Math.floor(i / 256))));
  });

  test('zeros encode to scale 0 and decode to zeros; float32 is the bytes as they are', () => {
    const z = new Float32Array(600);
    z[599] = 0.5; // only the last (short) block is non-zero
    const bytes = encodeWire(INT8, z, roundingSource(1));
    assert.equal(scaleOf(bytes, 0), 0);
    assert.equal(scaleOf(bytes, 1), 0);
    const y = decodeWire(INT8, bytes, 600);
    assert.deepEqual(y.subarray(0, 599), new Float32Array(599));
    assert.ok(Math.abs(y[599]! - 0.5) <= scaleOf(bytes, 2));
    const x = vector(10, 5);
    assert.deepEqual(decodeWire(FLOAT32_WIRE, encodeWire(FLOAT32_WIRE, x, roundingSource(1)), 10), x);
  });

  test('malformed int8 bytes are refused with a reason; non-finite input is refused at encoding', () => {
    const n = 300;
    const good = encodeWire(INT8, vector(n, 6), roundingSource(2));
    const refuse = (bytes: Uint8Array, code: string, re: RegExp) =>
      assert.throws(() => decodeWire(INT8, bytes, n), (e: unknown) => e instanceof ProtocolError && e.code === code && re.test(e.message));
    refuse(good.subarray(0, good.length - 1), 'BAD_LENGTH', /has 308 bytes, got 307/);
    refuse(new Uint8Array(n * 4), 'BAD_LENGTH', /int8 delta of 300 parameters/);
    const minus128 = good.slice();
    minus128[8 + 5] = 0x80;
    refuse(minus128, 'BAD_ENCODING', /value 5 is -128/);
    for (const [v, what] of [[-1, 'negative'], [NaN, 'NaN'], [Infinity, 'infinite']] as const) {
      const bad = good.slice();
      new DataView(bad.buffer).setFloat32(4, v, true);
      refuse(bad, 'BAD_ENCODING', /block 1: scale .* is not a finite non-negative float32/);
      assert.ok(what);
    }
    const zeroBlock = good.slice();
    zeroBlock.fill(0, 8, 8 + 256); // block 0's values all 0, its scale left non-zero
    refuse(zeroBlock, 'BAD_ENCODING', /block 0: all values are 0 but the scale/);
    const x = vector(n, 7);
    x[42] = NaN;
    assert.throws(() => encodeWire(INT8, x, roundingSource(1)), (e: unknown) => e instanceof ProtocolError && e.code === 'NON_FINITE' && /value 42/.test(e.message));
  });

  test('the codec schema takes float32 and int8 with a block in [16, 65536], nothing else', () => {
    assert.deepEqual(WireCodec.parse({ codec: 'int8', block: 64 }), { codec: 'int8', block: 64 });
    for (const bad of [{ codec: 'int4' }, { codec: 'int8', block: 8 }, { codec: 'int8', block: 1.5 }, { codec: 'float32', block: 256 }]) assert.equal(WireCodec.safeParse(bad).success, false, JSON.stringify(bad));
  });
});

describe('top-k codec with error feedback', () => {
  const TOPK = WireCodec.parse({ codec: 'topk', fraction: 0.1 });

  test('sends the k largest magnitudes (ties to the lower index) as ascending indices then values: 8 x fraction bytes a parameter', () => {
    assert.deepEqual(WireCodec.parse({ codec: 'topk' }), { codec: 'topk', fraction: 0.05 });
    assert.equal(wireBytes(TOPK, 1000), 100 * 8);
    assert.equal(wireBytes(WireCodec.parse({ codec: 'topk' }), 1_000_000) / 1_000_000, 0.4);
    const x = new Float32Array(20);
    x[3] = -5;
    x[17] = 4;
    x[8] = 1; // ties at 1: index 8 wins over index 11
    x[11] = -1;
    const bytes = encodeWire(TOPK, x, () => 0.5); // fraction 0.1 of 20: k = 2 (the draw is unused)
    assert.equal(bytes.length, 16);
    assert.deepEqual([...decodeWire(TOPK, bytes, 20)].map((v, i) => [i, v]).filter(([, v]) => v !== 0), [[3, -5], [17, 4]]);
    const k3 = WireCodec.parse({ codec: 'topk', fraction: 0.15 }); // k = 3: the tie goes to index 8
    assert.deepEqual([...decodeWire(k3, encodeWire(k3, x, () => 0), 20)].map((v, i) => [i, v]).filter(([, v]) => v !== 0), [[3, -5], [8, 1], [17, 4]]);
    const v = new DataView(bytes.buffer);
    assert.deepEqual([v.getUint32(0, true), v.getUint32(4, true), v.getFloat32(8, true), v.getFloat32(12, true)], [3, 17, -5, 4]);
  });

  test('malformed top-k bytes are refused: wrong length, an index out of range, indices not strictly ascending', () => {
    const n = 50;
    const good = encodeWire(TOPK, vector(n, 3), () => 0);
    const refuse = (b: Uint8Array, code: string, re: RegExp) => assert.throws(() => decodeWire(TOPK, b, n), (e: unknown) => e instanceof ProtocolError && e.code === code && re.test(e.message));
    refuse(good.subarray(0, good.length - 1), 'BAD_LENGTH', /has 40 bytes, got 39/);
    const out = good.slice();
    new DataView(out.buffer).setUint32(4, 50, true);
    refuse(out, 'BAD_ENCODING', /index 1 is 50, the model has 50 parameters/);
    const order = good.slice();
    const d = new DataView(order.buffer);
    d.setUint32(4, d.getUint32(0, true), true);
    refuse(order, 'BAD_ENCODING', /strictly ascending/);
  });

  test('error feedback: what a round does not send is added to the next, so the sum of what is sent converges to the sum of the deltas', async () => {
    const { FederatedClient } = await import('../../client/federated-client.ts');
    const { Wallet } = await import('ethers');
    // No coordinator is needed to encode: the client's own memory holds the remainder.
    const client = new FederatedClient({ coordinatorUrl: 'http://127.0.0.1:9', wallet: Wallet.createRandom() });
    const enc = (client as unknown as { encodeWithFeedback(t: unknown, d: Float32Array): Promise<Uint8Array> }).encodeWithFeedback.bind(client);
    const task = { id: 1, wire: TOPK };
    const n = 200;
    const sentSum = new Float64Array(n);
    const deltaSum = new Float64Array(n);
    for (let r = 0; r < 30; r++) {
      const d = vector(n, 100 + r, 0.01);
      d[7] = 0.001; // small every round: never in a single round's top 10%, but it adds up
      for (let i = 0; i < n; i++) deltaSum[i] = deltaSum[i]! + d[i]!;
      const sent = decodeWire(TOPK, await enc(task, d), n);
      for (let i = 0; i < n; i++) sentSum[i] = sentSum[i]! + sent[i]!;
    }
    const residual = (client as unknown as { residuals: Map<number, Float32Array> }).residuals.get(1)!;
    // Sent + what is still held back = everything trained, to float32 rounding.
    for (let i = 0; i < n; i++) assert.ok(Math.abs(sentSum[i]! + residual[i]! - deltaSum[i]!) < 1e-4, `coordinate ${i}`);
    assert.ok(sentSum[7]! > 0, 'the small steady coordinate was sent at some point');
    await client.close();
  });
});
