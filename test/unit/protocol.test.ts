import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, Wallet } from 'ethers';
import {
  canonicalJson,
  checkpointHash,
  contentHash,
  decodeCheckpoint,
  decodeDelta,
  decodeFloat32,
  DEFAULT_DOMAIN,
  emptyServerState,
  encodeCheckpoint,
  encodeFloat32,
  firstNonFinite,
  HEX32_RE,
  initialWeights,
  l2Norm,
  ModelSpec,
  PRESET_MODELS,
  recoverRegistrationSigner,
  recoverUpdateSigner,
  signRegistration,
  signUpdate,
  splitTensors,
  updateDigest,
  weightManifest,
  type Checkpoint,
  type UpdateMessage,
} from '../../protocol/index.ts';
import { throwsProtocol } from '../helpers/assert-protocol.ts';

const f32 = (xs: number[]) => new Float32Array(xs);


const IRIS = PRESET_MODELS['iris-mlp'] as ModelSpec;

describe('codec: float32 wire format', () => {
  test('encode/decode round-trips every value bit for bit, including signed zero, NaN and infinities', () => {
    const values = f32([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, NaN, Infinity, -Infinity, Math.PI]);
    const bytes = encodeFloat32(values);
    assert.equal(bytes.byteLength, values.length * 4);
    const back = decodeFloat32(bytes, values.length);
    assert.equal(back.length, values.length);
    // Compare the raw bits: NaN and -0 must survive exactly.
    assert.deepEqual(Buffer.from(encodeFloat32(back)), Buffer.from(bytes));
    assert.ok(Object.is(back[1], -0));
    assert.ok(Number.isNaN(back[6]));
  });

  test('the wire format is little-endian float32', () => {
    const bytes = encodeFloat32(f32([1, -2]));
    // 1.0f = 0x3f800000, -2.0f = 0xc0000000, least significant byte first.
    assert.deepEqual([...bytes], [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
  });

  test('encoding a subarray encodes only that window of the buffer', () => {
    const whole = f32([9, 1, 2, 3, 9]);
    const bytes = encodeFloat32(whole.subarray(1, 4));
    assert.deepEqual([...decodeFloat32(bytes, 3)], [1, 2, 3]);
  });

  test('decodes from a buffer view that is not 4-byte aligned', () => {
    const values = f32([1.25, -7, 42, 1e-3]);
    const raw = encodeFloat32(values);
    for (const shift of [1, 2, 3]) {
      const backing = new Uint8Array(raw.byteLength + shift + 2).fill(0xff);
      backing.set(raw, shift);
      const view = backing.subarray(shift, shift + raw.byteLength);
      assert.notEqual(view.byteOffset % 4, 0);
      const back = decodeFloat32(view, values.length);
      assert.deepEqual([...back], [...values], `offset ${shift}`);
    }
  });

  test('decodes a Node Buffer (a Uint8Array subclass) at a non-aligned offset', () => {
    // ioredis getBuffer, fs.readFile and HTTP bodies all hand out Buffers, often slices of a shared pool.
    const values = f32([1.5, -2, 3.25]);
    const pool = Buffer.alloc(64, 0xee);
    const view = pool.subarray(5, 5 + 12);
    view.set(encodeFloat32(values));
    assert.deepEqual([...decodeFloat32(view, 3)], [1.5, -2, 3.25]);
  });

  test('an aligned view decodes the window only, not the rest of the buffer', () => {
    const backing = new Uint8Array(16);
    backing.set(encodeFloat32(f32([5, 6])), 4);
    assert.deepEqual([...decodeFloat32(backing.subarray(4, 12))], [5, 6]);
  });

  test('a byte length that is not a multiple of 4 is BAD_LENGTH', () => {
    throwsProtocol(() => decodeFloat32(new Uint8Array(7)), 'BAD_LENGTH');
    throwsProtocol(() => decodeFloat32(new Uint8Array(1), 0), 'BAD_LENGTH');
  });

  test('a whole number of floats that is not the expected count is BAD_LENGTH', () => {
    throwsProtocol(() => decodeFloat32(new Uint8Array(12), 4), 'BAD_LENGTH', /expected 4/);
    throwsProtocol(() => decodeFloat32(new Uint8Array(20), 4), 'BAD_LENGTH');
    assert.equal(decodeFloat32(new Uint8Array(16), 4).length, 4);
  });

  test('decodeDelta checks the blob against the model manifest', () => {
    const m = weightManifest(IRIS);
    assert.equal(decodeDelta(m, new Uint8Array(m.size * 4)).length, m.size);
    throwsProtocol(() => decodeDelta(m, new Uint8Array((m.size - 1) * 4)), 'BAD_LENGTH');
    throwsProtocol(() => decodeDelta(m, new Uint8Array((m.size + 1) * 4)), 'BAD_LENGTH');
  });

  test('splitTensors gives one view per manifest tensor, in order', () => {
    const m = weightManifest(IRIS);
    const flat = new Float32Array(m.size).map((_, i) => i);
    const parts = splitTensors(m, flat);
    assert.deepEqual(parts.map((p) => p.length), [64, 16, 48, 3]);
    assert.equal(parts[1]![0], 64);
    assert.equal(parts[3]![2], m.size - 1);
    throwsProtocol(() => splitTensors(m, new Float32Array(m.size + 1)), 'BAD_LENGTH');
  });

  test('firstNonFinite finds the first NaN or infinity, or -1', () => {
    assert.equal(firstNonFinite(f32([])), -1);
    assert.equal(firstNonFinite(f32([0, -1, 3.4e38, -3.4e38])), -1);
    assert.equal(firstNonFinite(f32([0, 1, NaN, Infinity])), 2);
    assert.equal(firstNonFinite(f32([Infinity])), 0);
    assert.equal(firstNonFinite(f32([1, 2, 3, -Infinity])), 3);
  });

  test('l2Norm is the Euclidean norm, accumulated without float32 overflow', () => {
    assert.equal(l2Norm(f32([])), 0);
    assert.equal(l2Norm(f32([3, -4])), 5);
    assert.equal(l2Norm(f32([1, 1, 1, 1])), 2);
    // 3e38^2 overflows float32 but not float64; the norm itself (4.24e38) is past float32's max too.
    const big = l2Norm(f32([3e38, -3e38]));
    const expected = Math.SQRT2 * Math.fround(3e38);
    assert.ok(Math.abs(big / expected - 1) < 1e-12, `got ${big}`);
    assert.ok(Number.isNaN(l2Norm(f32([1, NaN]))));
  });
});

describe('keccak256 content hash', () => {
  const te = new TextEncoder();
  const inputs: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['"abc"', te.encode('abc')],
    ['one byte', new Uint8Array([0xff])],
    ['1 MiB of pattern', new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff)],
  ];
  for (const [name, bytes] of inputs) {
    test(`matches ethers' keccak256 on ${name}`, async () => {
      const h = await contentHash(bytes);
      assert.equal(h, keccak256(bytes));
      assert.match(h, HEX32_RE);
    });
  }

  test('the well-known keccak256 of the empty string', async () => {
    assert.equal(await contentHash(new Uint8Array(0)), '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
  });

  test('hashing several chunks equals hashing their concatenation', async () => {
    const a = te.encode('federated ');
    const b = new Uint8Array(0);
    const c = new Uint8Array(5000).map((_, i) => i & 0xff);
    const whole = new Uint8Array(a.length + c.length);
    whole.set(a, 0);
    whole.set(c, a.length);
    assert.equal(await contentHash(a, b, c), keccak256(whole));
    assert.notEqual(await contentHash(a, c), await contentHash(c, a));
  });

  test('concurrent hashes do not interfere with each other', async () => {
    const xs = Array.from({ length: 20 }, (_, i) => new Uint8Array(1000 + i).fill(i));
    const got = await Promise.all(xs.map((x) => contentHash(x)));
    assert.deepEqual(got, xs.map((x) => keccak256(x)));
  });

  test('checkpointHash is the content hash of the bytes', async () => {
    const bytes = te.encode('checkpoint');
    assert.equal(await checkpointHash(bytes), keccak256(bytes));
  });
});

describe('canonical JSON', () => {
  test('sorts keys at every depth and drops whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test('equal objects built in a different key order serialise identically', () => {
    const one = { task: 1, round: 2, nested: { x: 1, y: [1, 2] } };
    const two = { nested: { y: [1, 2], x: 1 }, round: 2, task: 1 };
    assert.equal(canonicalJson(one), canonicalJson(two));
  });

  test('keeps array order, drops undefined fields, keeps null', () => {
    assert.equal(canonicalJson([3, 1, 2]), '[3,1,2]');
    assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  });

  test('refuses NaN and Infinity instead of writing null', () => {
    assert.throws(() => canonicalJson({ x: NaN }));
    assert.throws(() => canonicalJson([Infinity]));
  });
});

describe('model spec and weight manifest', () => {
  test('iris-mlp: 4-16-3 MLP, kernels then biases per layer', () => {
    const m = weightManifest(IRIS);
    assert.deepEqual(
      m.tensors.map((t) => [t.name, t.shape, t.offset, t.size]),
      [
        ['layer0/kernel', [4, 16], 0, 64],
        ['layer0/bias', [16], 64, 16],
        ['layer1/kernel', [16, 3], 80, 48],
        ['layer1/bias', [3], 128, 3],
      ],
    );
    assert.equal(m.size, 131);
  });

  test('mnist-mlp: 784-128-10', () => {
    const m = weightManifest(PRESET_MODELS['mnist-mlp'] as ModelSpec);
    assert.deepEqual(m.tensors.map((t) => t.shape), [[784, 128], [128], [128, 10], [10]]);
    assert.equal(m.size, 784 * 128 + 128 + 128 * 10 + 10);
  });

  test('mnist-cnn: conv/pool shapes chain down to the dense layers', () => {
    const m = weightManifest(PRESET_MODELS['mnist-cnn'] as ModelSpec);
    // 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4; flatten 4*4*16 = 256.
    assert.deepEqual(
      m.tensors.map((t) => [t.name, t.shape]),
      [
        ['layer0/kernel', [5, 5, 1, 8]],
        ['layer0/bias', [8]],
        ['layer2/kernel', [5, 5, 8, 16]],
        ['layer2/bias', [16]],
        ['layer5/kernel', [256, 64]],
        ['layer5/bias', [64]],
        ['layer6/kernel', [64, 10]],
        ['layer6/bias', [10]],
      ],
    );
    assert.equal(m.size, 200 + 8 + 3200 + 16 + 256 * 64 + 64 + 640 + 10);
  });

  test('offsets are contiguous and sizes are the products of the shapes', () => {
    for (const spec of Object.values(PRESET_MODELS)) {
      const m = weightManifest(spec as ModelSpec);
      let off = 0;
      for (const t of m.tensors) {
        assert.equal(t.offset, off);
        assert.equal(t.size, t.shape.reduce((a, b) => a * b, 1));
        off += t.size;
      }
      assert.equal(m.size, off);
    }
  });

  test("'same' padding and strides shape the conv output", () => {
    const spec: ModelSpec = {
      inputShape: [9, 9, 2],
      classes: 2,
      layers: [
        { type: 'conv2d', filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
        { type: 'flatten' },
        { type: 'dense', units: 2, activation: 'softmax' },
      ],
    };
    const m = weightManifest(spec);
    // ceil(9 / 2) = 5 -> 5*5*3 = 75 inputs to the dense layer.
    assert.deepEqual(m.tensors.map((t) => t.shape), [[3, 3, 2, 3], [3], [75, 2], [2]]);
  });

  test('dense after conv without flatten is rejected', () => {
    const spec = {
      inputShape: [8, 8, 1],
      classes: 2,
      layers: [
        { type: 'conv2d', filters: 2, kernelSize: 3, strides: 1, padding: 'valid', activation: 'relu' },
        { type: 'dense', units: 2, activation: 'softmax' },
      ],
    } as ModelSpec;
    throwsProtocol(() => weightManifest(spec), 'BAD_MODEL', /flatten/);
    assert.equal(ModelSpec.safeParse(spec).success, false);
  });

  test('a last layer that is not dense with units = classes is rejected', () => {
    const wrongUnits = { inputShape: [4], classes: 3, layers: [{ type: 'dense', units: 4, activation: 'softmax' }] } as ModelSpec;
    throwsProtocol(() => weightManifest(wrongUnits), 'BAD_MODEL', /last layer/);
    const endsInDropout = { inputShape: [4], classes: 3, layers: [{ type: 'dense', units: 3, activation: 'softmax' }, { type: 'dropout', rate: 0.1 }] } as ModelSpec;
    throwsProtocol(() => weightManifest(endsInDropout), 'BAD_MODEL', /last layer/);
    assert.equal(ModelSpec.safeParse(wrongUnits).success, false);
  });

  test('conv on flat input, and kernels or pools larger than the input, are rejected', () => {
    const convOnFlat = { inputShape: [16], classes: 2, layers: [{ type: 'conv2d', filters: 1, kernelSize: 3, strides: 1, padding: 'valid', activation: 'relu' }, { type: 'dense', units: 2, activation: 'linear' }] } as ModelSpec;
    throwsProtocol(() => weightManifest(convOnFlat), 'BAD_MODEL', /conv2d/);
    const bigKernel = { inputShape: [4, 4, 1], classes: 2, layers: [{ type: 'conv2d', filters: 1, kernelSize: 5, strides: 1, padding: 'valid', activation: 'relu' }, { type: 'flatten' }, { type: 'dense', units: 2, activation: 'linear' }] } as ModelSpec;
    throwsProtocol(() => weightManifest(bigKernel), 'BAD_MODEL', /kernel larger/);
    const bigPool = { inputShape: [2, 2, 1], classes: 2, layers: [{ type: 'maxPooling2d', poolSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 2, activation: 'linear' }] } as ModelSpec;
    throwsProtocol(() => weightManifest(bigPool), 'BAD_MODEL', /pool larger/);
  });

  test('a model over 50,000,000 parameters is rejected', () => {
    const huge = { inputShape: [4096], classes: 2, layers: [{ type: 'dense', units: 20000, activation: 'relu' }, { type: 'dense', units: 2, activation: 'linear' }] } as ModelSpec;
    throwsProtocol(() => weightManifest(huge), 'BAD_MODEL', /50,000,000/);
  });

  test('ModelSpec fills defaults and accepts every preset', () => {
    for (const spec of Object.values(PRESET_MODELS)) assert.ok(ModelSpec.safeParse(spec).success);
    const parsed = ModelSpec.parse({ inputShape: [4], classes: 3, layers: [{ type: 'dense', units: 3 }] });
    assert.deepEqual(parsed.layers[0], { type: 'dense', units: 3, activation: 'linear' });
  });
});

describe('initial weights', () => {
  test('are deterministic for a seed', () => {
    const a = initialWeights(IRIS, 7);
    const b = initialWeights(IRIS, 7);
    assert.deepEqual(Buffer.from(encodeFloat32(a)), Buffer.from(encodeFloat32(b)));
  });

  test('differ across seeds', () => {
    const seen = new Set<string>();
    for (const seed of [0, 1, 2, 3, 42, 2 ** 31, 2 ** 32 - 1]) seen.add(Buffer.from(encodeFloat32(initialWeights(IRIS, seed))).toString('hex'));
    assert.equal(seen.size, 7);
  });

  test('seed 0 is not an alias of another valid seed', () => {
    // Seeds range over [0, 2^32 - 1] (CreateTaskBody). Prng maps state 0 to 0x9e3779b9, so seed 0
    // and seed 2654435769 would start from the same weights.
    const a = initialWeights(IRIS, 0);
    const b = initialWeights(IRIS, 0x9e3779b9);
    assert.notDeepEqual([...a], [...b]);
  });

  test('biases are zero and kernels are Glorot-uniform within their limit', () => {
    const m = weightManifest(IRIS);
    const w = initialWeights(IRIS, 3);
    assert.equal(w.length, m.size);
    for (const t of m.tensors) {
      const part = w.subarray(t.offset, t.offset + t.size);
      if (t.name.endsWith('/bias')) {
        assert.ok(part.every((v) => v === 0), `${t.name} is zero`);
      } else {
        const limit = Math.sqrt(6 / ((t.shape[0] as number) + (t.shape[1] as number)));
        assert.ok(part.every((v) => Math.abs(v) <= limit), `${t.name} within ±${limit}`);
        assert.ok(part.some((v) => v !== 0), `${t.name} is not all zero`);
      }
    }
  });
});

describe('checkpoint format', () => {
  const base = (over: Partial<Checkpoint> = {}): Checkpoint => ({
    task: 3,
    round: 2,
    parentHash: `0x${'ab'.repeat(32)}`,
    strategy: 'fedadam',
    modelSpec: IRIS,
    weights: initialWeights(IRIS, 5),
    serverState: {
      scalars: { step: 4, lr: 0.01 },
      tensors: { m: new Float32Array(131).fill(0.5), v: new Float32Array(131).map((_, i) => i / 1000) },
    },
    ...over,
  });

  test('encode/decode round-trips every field, including server state', () => {
    const cp = base();
    const back = decodeCheckpoint(encodeCheckpoint(cp));
    assert.equal(back.task, 3);
    assert.equal(back.round, 2);
    assert.equal(back.parentHash, cp.parentHash);
    assert.equal(back.strategy, 'fedadam');
    assert.deepEqual(back.modelSpec, cp.modelSpec);
    assert.deepEqual([...back.weights], [...cp.weights]);
    assert.deepEqual(back.serverState.scalars, { step: 4, lr: 0.01 });
    assert.deepEqual(Object.keys(back.serverState.tensors).sort(), ['m', 'v']);
    assert.deepEqual([...back.serverState.tensors.m!], [...cp.serverState.tensors.m!]);
    assert.deepEqual([...back.serverState.tensors.v!], [...cp.serverState.tensors.v!]);
  });

  test('a genesis checkpoint (no parent, empty state) round-trips', () => {
    const cp = base({ round: 0, parentHash: null, strategy: 'fedavg', serverState: emptyServerState() });
    const back = decodeCheckpoint(encodeCheckpoint(cp));
    assert.equal(back.parentHash, null);
    assert.deepEqual(back.serverState, { scalars: {}, tensors: {} });
  });

  test('starts with the magic, and the tensor data is 4-byte aligned', () => {
    const bytes = encodeCheckpoint(base());
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), 'FLCKPT01');
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
    assert.equal((12 + headerLength) % 4, 0);
    assert.equal(bytes.length, 12 + headerLength + (131 * 3) * 4);
  });

  test('equal checkpoints give equal bytes and hashes, whatever the key order of their state', async () => {
    const a = base();
    const b = base({
      serverState: {
        scalars: { lr: 0.01, step: 4 },
        tensors: { v: new Float32Array(131).map((_, i) => i / 1000), m: new Float32Array(131).fill(0.5) },
      },
    });
    const ea = encodeCheckpoint(a);
    const eb = encodeCheckpoint(b);
    assert.deepEqual(Buffer.from(ea), Buffer.from(eb));
    assert.equal(await checkpointHash(ea), await checkpointHash(eb));
    // ...and any change changes the hash.
    const w = new Float32Array(a.weights);
    w[0] = w[0]! + 1e-3;
    assert.notEqual(await checkpointHash(encodeCheckpoint(base({ weights: w }))), await checkpointHash(ea));
    assert.notEqual(await checkpointHash(encodeCheckpoint(base({ round: 3 }))), await checkpointHash(ea));
  });

  test('decoding copies: the result does not alias the input bytes', () => {
    const bytes = encodeCheckpoint(base());
    const cp = decodeCheckpoint(bytes);
    const before = cp.weights[0];
    bytes.fill(0, bytes.length - 131 * 3 * 4);
    assert.equal(cp.weights[0], before);
  });

  test('decoding a Node Buffer gives the same checkpoint, at any offset, without aliasing it', () => {
    const cp = base();
    const encoded = encodeCheckpoint(cp);
    for (const shift of [0, 1, 2, 3]) {
      const backing = Buffer.alloc(encoded.length + shift);
      backing.set(encoded, shift);
      const buf = backing.subarray(shift);
      const back = decodeCheckpoint(buf);
      assert.deepEqual([...back.weights], [...cp.weights], `weights, offset ${shift}`);
      assert.deepEqual([...back.serverState.tensors.v!], [...cp.serverState.tensors.v!], `state, offset ${shift}`);
      const w0 = back.weights[0];
      buf.fill(0, 12);
      assert.equal(back.weights[0], w0, `decoded weights must not alias the input (offset ${shift})`);
    }
  });

  test('encode refuses weights that do not fit the model', () => {
    throwsProtocol(() => encodeCheckpoint(base({ weights: new Float32Array(130) })), 'BAD_CHECKPOINT');
  });

  test('decode rejects a bad magic', () => {
    const bytes = encodeCheckpoint(base());
    bytes[0] = 0x58;
    throwsProtocol(() => decodeCheckpoint(bytes), 'BAD_CHECKPOINT', /magic/);
    throwsProtocol(() => decodeCheckpoint(new Uint8Array(5)), 'BAD_CHECKPOINT', /magic/);
  });

  test('decode rejects truncation, in the header and in the tensor data', () => {
    const bytes = encodeCheckpoint(base());
    throwsProtocol(() => decodeCheckpoint(bytes.subarray(0, 40)), 'BAD_CHECKPOINT', /truncated header/);
    throwsProtocol(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4)), 'BAD_CHECKPOINT', /truncated/);
    throwsProtocol(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 131 * 4 - 1)), 'BAD_CHECKPOINT', /truncated/);
  });

  test('decode rejects trailing bytes', () => {
    const bytes = encodeCheckpoint(base());
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    throwsProtocol(() => decodeCheckpoint(longer), 'BAD_CHECKPOINT', /trailing/);
  });

  /** Hand-built checkpoint bytes with any header. */
  function rawCheckpoint(header: unknown, floats: number): Uint8Array {
    let h = new TextEncoder().encode(JSON.stringify(header));
    const pad = (4 - ((12 + h.length) % 4)) % 4;
    h = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
    const out = new Uint8Array(12 + h.length + floats * 4);
    out.set(new TextEncoder().encode('FLCKPT01'));
    new DataView(out.buffer).setUint32(8, h.length, true);
    out.set(h, 12);
    return out;
  }
  const goodHeader = { format: 1, task: 1, round: 0, parentHash: null, strategy: 'fedavg', modelSpec: IRIS, params: 131, stateScalars: {}, stateTensors: [] };

  test('hand-built bytes with a consistent header decode (the helper is faithful)', () => {
    assert.equal(decodeCheckpoint(rawCheckpoint(goodHeader, 131)).weights.length, 131);
  });

  test('decode rejects a header whose parameter count does not match the model spec', () => {
    // params 130 with 130 floats: lengths are consistent, but the spec needs 131.
    throwsProtocol(() => decodeCheckpoint(rawCheckpoint({ ...goodHeader, params: 130 }, 130)), 'BAD_CHECKPOINT', /parameter count/);
  });

  test('decode rejects a header that is not JSON or misses fields', () => {
    const bytes = rawCheckpoint(goodHeader, 131);
    bytes[12] = 0x7e; // '~' instead of '{'
    throwsProtocol(() => decodeCheckpoint(bytes), 'BAD_CHECKPOINT', /not JSON/);
    const { strategy: _s, ...noStrategy } = goodHeader;
    throwsProtocol(() => decodeCheckpoint(rawCheckpoint(noStrategy, 131)), 'BAD_CHECKPOINT', /bad header/);
    throwsProtocol(() => decodeCheckpoint(rawCheckpoint({ ...goodHeader, format: 2 }, 131)), 'BAD_CHECKPOINT', /bad header/);
  });

  test('decode rejects state tensors that overrun the data', () => {
    const bytes = rawCheckpoint({ ...goodHeader, stateTensors: [{ name: 'm', size: 10 }] }, 131 + 5);
    throwsProtocol(() => decodeCheckpoint(bytes), 'BAD_CHECKPOINT', /truncated/);
  });
});

describe('EIP-712 signatures', () => {
  const wallet = new Wallet('0x' + '11'.repeat(32));
  const other = new Wallet('0x' + '22'.repeat(32));
  const msg: UpdateMessage = { task: 4, round: 9, baseHash: `0x${'aa'.repeat(32)}`, updateHash: `0x${'bb'.repeat(32)}`, numSamples: 120 };

  test('signUpdate / recoverUpdateSigner round-trip to the lowercase signer address', async () => {
    const sig = await signUpdate(wallet, DEFAULT_DOMAIN, msg);
    assert.match(sig, /^0x[0-9a-f]{130}$/);
    assert.equal(recoverUpdateSigner(DEFAULT_DOMAIN, msg, sig), wallet.address.toLowerCase());
    assert.notEqual(recoverUpdateSigner(DEFAULT_DOMAIN, msg, await signUpdate(other, DEFAULT_DOMAIN, msg)), wallet.address.toLowerCase());
  });

  test('changing any signed field, or the domain, changes the recovered signer', async () => {
    const sig = await signUpdate(wallet, DEFAULT_DOMAIN, msg);
    const me = wallet.address.toLowerCase();
    const variants: [string, UpdateMessage][] = [
      ['task', { ...msg, task: 5 }],
      ['round', { ...msg, round: 10 }],
      ['baseHash', { ...msg, baseHash: `0x${'ac'.repeat(32)}` }],
      ['updateHash', { ...msg, updateHash: `0x${'bc'.repeat(32)}` }],
      ['numSamples', { ...msg, numSamples: 121 }],
    ];
    for (const [field, m] of variants) {
      let recovered: string | null = null;
      try {
        recovered = recoverUpdateSigner(DEFAULT_DOMAIN, m, sig);
      } catch {
        recovered = null; // an unrecoverable signature is also "not the signer"
      }
      assert.notEqual(recovered, me, `changing ${field} must change the signer`);
      assert.notEqual(updateDigest(DEFAULT_DOMAIN, m), updateDigest(DEFAULT_DOMAIN, msg), `${field} is part of the digest`);
    }
    for (const d of [{ ...DEFAULT_DOMAIN, chainId: 1 }, { ...DEFAULT_DOMAIN, name: 'Other' }, { ...DEFAULT_DOMAIN, version: '2' }]) {
      assert.notEqual(recoverUpdateSigner(d, msg, sig), me, `domain ${JSON.stringify(d)}`);
    }
  });

  test('a malformed signature throws', () => {
    assert.throws(() => recoverUpdateSigner(DEFAULT_DOMAIN, msg, '0x1234'));
  });

  test('registration signatures bind the task, the address, the nonce and the expiry', async () => {
    const c = { task: 4, address: wallet.address, nonce: `0x${'07'.repeat(32)}`, expiresAt: 1_900_000_000 };
    const sig = await signRegistration(wallet, DEFAULT_DOMAIN, c);
    const me = wallet.address.toLowerCase();
    assert.equal(recoverRegistrationSigner(DEFAULT_DOMAIN, c, sig), me);
    assert.notEqual(recoverRegistrationSigner(DEFAULT_DOMAIN, { ...c, task: 5 }, sig), me);
    assert.notEqual(recoverRegistrationSigner(DEFAULT_DOMAIN, { ...c, address: other.address }, sig), me);
    assert.notEqual(recoverRegistrationSigner(DEFAULT_DOMAIN, { ...c, nonce: `0x${'08'.repeat(32)}` }, sig), me);
    assert.notEqual(recoverRegistrationSigner(DEFAULT_DOMAIN, { ...c, expiresAt: c.expiresAt + 1 }, sig), me);
  });
});
