import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { DEFAULT_DOMAIN } from '../../protocol/index.ts';
import {
  addWords,
  checkReveal,
  checkTranscript,
  decodeMeanDelta,
  fromHex,
  keystream,
  newKeyPair,
  x25519Shared,
  maskWords,
  pairwiseMaskSeed,
  quantiseDelta,
  recoverSecrets,
  SecAggFault,
  SecAggParticipant,
  secureScale,
  secureThreshold,
  SecureAggConfig,
  signSecAggMessage,
  signedWord,
  simulateSecureRound,
  toHex,
  unmaskSum,
  unmaskTranscript,
  zeroWords,
  type Confirmation,
  type Reveal,
  type RingWords,
  type SecureTranscript,
} from '../../protocol/secagg/index.ts';

const domain = DEFAULT_DOMAIN;
const wallets = Array.from({ length: 5 }, (_, i) => new Wallet(`0x${(i + 1).toString(16).padStart(64, '0')}`));

/** A small seeded byte source (xorshift32), so quantisation is reproducible in tests. */
function seededBytes(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

function randomInputs(n: number, params: number, bits: 16 | 8, seed = 1): RingWords[] {
  const rnd = seededBytes(seed);
  return Array.from({ length: n }, () => {
    const w = zeroWords(bits, params);
    const r = rnd(params);
    // Small signed values, as clipped quantised deltas are.
    for (let i = 0; i < params; i++) w[i] = ((r[i] as number) % 61) - 30;
    return w;
  });
}

function plainSum(inputs: RingWords[], bits: 16 | 8): RingWords {
  const s = zeroWords(bits, (inputs[0] as RingWords).length);
  for (const x of inputs) addWords(s, x);
  return s;
}

describe('secure aggregation: fixed point', () => {
  test('quantisation clips to the norm and range and rounds without bias', () => {
    const cfg = SecureAggConfig.parse({ clipNorm: 1, range: 0.1, maxClients: 10 });
    const scale = secureScale(cfg);
    // 10 clients at the range edge plus one unit of rounding each fit below 2^15.
    assert.ok(10 * (0.1 * scale + 1) <= 2 ** 15 - 1 + 1e-9, 'ten clients fit');
    assert.ok(10 * (0.1 * (scale * 1.01) + 1) > 2 ** 15 - 1, 'the scale is the largest that fits');
    const delta = new Float32Array([0.05, -0.05, 3, -3, 0.0001]);
    const q = quantiseDelta(delta, cfg, scale, seededBytes(7));
    const back = Array.from(q, (w) => signedWord(16, w) / scale);
    // The norm is > 1, so everything shrinks by 1/norm, then +-3 clamps to +-range.
    const norm = Math.hypot(...delta);
    assert.ok(Math.abs((back[0] as number) - 0.05 / norm) <= 1 / scale);
    assert.ok(Math.abs((back[2] as number) - 0.1) <= 1 / scale);
    assert.ok(Math.abs((back[3] as number) + 0.1) <= 1 / scale);
    // Unbiased: the mean of many stochastic roundings of one value is that value.
    const many = new Float32Array(50_000).fill(0.3 / scale);
    const qm = quantiseDelta(many, { ...cfg, clipNorm: 1e6 }, scale, seededBytes(9));
    const mean = Array.from(qm, (w) => signedWord(16, w)).reduce((a, b) => a + b, 0) / many.length;
    assert.ok(Math.abs(mean - 0.3) < 0.01, `mean of roundings ${mean}`);
    assert.throws(() => quantiseDelta(new Float32Array([NaN]), cfg, scale, seededBytes(1)), /not finite/);
  });

  test('decoding reads two\'s complement and divides by scale x survivors', () => {
    const cfg = SecureAggConfig.parse({ clipNorm: 1, range: 0.1, maxClients: 4, bits: 8 });
    const sum = new Uint8Array([0, 1, 255, 128, 127]);
    assert.deepEqual(Array.from(decodeMeanDelta(sum, cfg, 10, 2)), [0, 0.05, -0.05, -6.4, 6.35].map(Math.fround));
  });

  test('the threshold is always a strict majority', () => {
    for (let n = 3; n <= 255; n++) {
      for (const f of [0.5, 0.6, 1]) {
        const t = secureThreshold(n, f);
        assert.ok(2 * t > n && t <= n, `n=${n} f=${f} t=${t}`);
      }
    }
    assert.throws(() => secureScale(SecureAggConfig.parse({ clipNorm: 1, range: 1, maxClients: 200, bits: 8 })), /cannot hold/);
  });
});

describe('secure aggregation: masks', () => {
  test('OpenSSL and noble ChaCha20 give the same keystream', () => {
    const seed = fromHex(`0x${'ab'.repeat(32)}`);
    assert.deepEqual(keystream(seed, 4099), keystream(seed, 4099, 'noble'));
  });

  test('ring addition is exact mod 2^16 and 2^8: aligned, unaligned and odd-length views', () => {
    const rnd = seededBytes(99);
    for (const [bits, count, offset] of [[16, 1001, 0], [16, 1000, 2], [16, 7, 0], [8, 1001, 1]] as const) {
      const bytes = (bits / 8) * count;
      const aBuf = rnd(bytes + offset);
      const bBuf = rnd(bytes + 4);
      const view = (buf: Uint8Array, off: number) => (bits === 16 ? new Uint16Array(buf.buffer, off, count) : new Uint8Array(buf.buffer, off, count));
      const a = view(aBuf, offset);
      const b = view(bBuf, 0);
      const modulus = 2 ** bits;
      for (const sign of [1, -1] as const) {
        const want = Array.from(a, (v, i) => (((v + sign * (b[i] as number)) % modulus) + modulus) % modulus);
        const acc = bits === 16 ? new Uint16Array(a) : new Uint8Array(a);
        addWords(acc, bits === 16 ? new Uint16Array(b) : new Uint8Array(b), sign);
        assert.deepEqual(Array.from(acc), want, `bits=${bits} count=${count} sign=${sign}`);
        const inPlace = a.slice();
        const unaligned = view(new Uint8Array(bytes + offset), offset);
        unaligned.set(inPlace);
        addWords(unaligned, b, sign);
        assert.deepEqual(Array.from(unaligned), want, `unaligned bits=${bits} offset=${offset}`);
      }
    }
  });

  test('OpenSSL and noble X25519 agree, and both refuse low-order points', () => {
    for (let i = 0; i < 8; i++) {
      const a = newKeyPair();
      const pk = newKeyPair().publicKey.slice();
      if (i % 2) pk[31]! |= 0x80; // RFC 7748: the top bit of u is ignored by both
      assert.deepEqual(x25519Shared(a.secretKey, pk), x25519Shared(a.secretKey, pk, 'noble'));
    }
    // u = p + 3 (non-canonical encoding of 3): both reduce it mod p.
    const nonCanonical = fromHex(`0x${'f0'}${'ff'.repeat(30)}7f`);
    const sk = newKeyPair().secretKey;
    assert.deepEqual(x25519Shared(sk, nonCanonical), x25519Shared(sk, nonCanonical, 'noble'));
    const lowOrder = [`0x${'00'.repeat(32)}`, `0x01${'00'.repeat(31)}`, '0xe0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', `0xec${'ff'.repeat(30)}7f`];
    for (const h of lowOrder) {
      assert.throws(() => x25519Shared(sk, fromHex(h)), Error, `OpenSSL accepted ${h}`);
      assert.throws(() => x25519Shared(sk, fromHex(h), 'noble'), Error, `noble accepted ${h}`);
    }
  });

  test('pairwise seeds agree between the two ends and differ per round', () => {
    const scope = { chainId: 1, task: 1, round: 1 };
    const a = new SecAggParticipant(scope, '0x' + '1'.repeat(40));
    const b = new SecAggParticipant(scope, '0x' + '2'.repeat(40));
    const ab = pairwiseMaskSeed(scope, a.s.secretKey, b.s.publicKey, a.address, b.address);
    assert.deepEqual(ab, pairwiseMaskSeed(scope, b.s.secretKey, a.s.publicKey, b.address, a.address));
    assert.notDeepEqual(ab, pairwiseMaskSeed({ ...scope, round: 2 }, a.s.secretKey, b.s.publicKey, a.address, b.address));
  });
});

describe('secure aggregation: a whole round', () => {
  const params = 3001;
  for (const bits of [16, 8] as const) {
    test(`unmasked sum equals the plain integer sum exactly (${bits}-bit ring, no dropout)`, async () => {
      const inputs = randomInputs(5, params, bits);
      const { sum, masked } = await simulateSecureRound({ domain, task: 1, round: 1, bits, threshold: 3, wallets, inputs });
      assert.deepEqual(sum, plainSum(inputs, bits));
      // A masked upload looks nothing like its input.
      for (const [i, w] of wallets.entries()) {
        const y = masked.get(w.address.toLowerCase()) as RingWords;
        const same = y.filter((v, j) => v === (inputs[i] as RingWords)[j]).length;
        assert.ok(same < params * 0.05, `client ${i}: ${same} of ${params} words unmasked`);
      }
    });
  }

  test('one client drops after uploading: its self-seed is rebuilt from shares, the sum is exact', async () => {
    const inputs = randomInputs(5, params, 16, 2);
    const { sum, transcript } = await simulateSecureRound({ domain, task: 1, round: 1, bits: 16, threshold: 3, wallets, inputs, dropAfterUpload: [2] });
    assert.equal(transcript.reveals.length, 4);
    assert.deepEqual(sum, plainSum(inputs, 16));
  });

  test('one client drops before uploading: its pairwise masks are rebuilt, the sum of the others is exact', async () => {
    const inputs = randomInputs(5, params, 16, 3);
    const { sum, transcript } = await simulateSecureRound({ domain, task: 1, round: 1, bits: 16, threshold: 3, wallets, inputs, dropBeforeUpload: [4] });
    assert.equal(transcript.survivors.length, 4);
    assert.deepEqual(sum, plainSum(inputs.slice(0, 4), 16));
  });

  test('too many dropouts: the round fails with a named reason, never a wrong sum', async () => {
    const inputs = randomInputs(5, 101, 16, 4);
    // Three confirm and then vanish: two reveals cannot rebuild anyone's secrets.
    await assert.rejects(
      simulateSecureRound({ domain, task: 1, round: 1, bits: 16, threshold: 3, wallets, inputs, dropBeforeReveal: [0, 1, 2] }),
      (e: unknown) => e instanceof SecAggFault && e.code === 'NOT_ENOUGH_SHARES' && /^shares\/0x/.test(e.artefact),
    );
    // Three vanish before confirming: the two left refuse to reveal on two confirmations.
    await assert.rejects(
      simulateSecureRound({ domain, task: 1, round: 1, bits: 16, threshold: 3, wallets, inputs, dropAfterUpload: [0, 1, 2] }),
      (e: unknown) => e instanceof SecAggFault && e.code === 'TOO_FEW_CONFIRMATIONS' && e.artefact === 'survivors',
    );
  });

  test('a coordinator that claims a live client dropped learns nothing of its delta', async () => {
    const inputs = randomInputs(5, params, 16, 5);
    const scope = { chainId: domain.chainId, task: 1, round: 1 };
    const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
    const adverts = (await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i] as Wallet, domain, 'keys', p.advert())))).sort((a, b) => (a.client < b.client ? -1 : 1));
    const bundles = (await Promise.all(ps.map(async (p, i) => signSecAggMessage(wallets[i] as Wallet, domain, 'shares', await p.shareBundle(adverts, 3))))).sort((a, b) => (a.client < b.client ? -1 : 1));
    const ys = ps.map((p, i) => p.maskInput(inputs[i] as RingWords, 16, adverts));
    // Every client uploaded; the coordinator lies that the victim dropped and asks the others.
    const victim = 0;
    const lie = ps.filter((_, i) => i !== victim).map((p) => p.address).sort();
    // Everyone it asks confirms the lie (only the victim was told otherwise), so the check passes.
    const liars = ps.map((p, i) => [p, i] as const).filter(([, i]) => i !== victim);
    const confirmations = (await Promise.all(liars.map(([p, i]) => signSecAggMessage(wallets[i] as Wallet, domain, 'consistency', p.confirm(lie, adverts, 3))))).sort((a, b) => (a.client < b.client ? -1 : 1)) as Confirmation[];
    const proof = { domain, confirmations, required: 3 };
    const reveals = (await Promise.all(liars.map(([p, i]) => signSecAggMessage(wallets[i] as Wallet, domain, 'reveal', p.reveal(lie, adverts, 3, proof))))) as Reveal[];
    const transcript: SecureTranscript = { format: 2, task: 1, round: 1, threshold: 3, adverts, bundles, survivors: lie as `0x${string}`[], survivorThreshold: 3, confirmations, reveals: reveals.sort((a, b) => (a.client < b.client ? -1 : 1)) };
    const checked = checkTranscript(domain, transcript);
    const secrets = await recoverSecrets(domain, checked);
    const victimAddr = ps[victim]?.address as string;
    // It now holds the victim's mask key and strips every pairwise mask off the victim's upload...
    const stripped = (ys[victim] as RingWords).slice();
    for (const a of adverts) {
      if (a.client === victimAddr) continue;
      const seed = pairwiseMaskSeed(scope, secrets.maskKeys.get(victimAddr) as Uint8Array, fromHex(a.sPk), victimAddr, a.client);
      addWords(stripped, maskWords(seed, 16, params), victimAddr < a.client ? -1 : 1);
    }
    // ...but the self-mask stays: what is left is uniform noise, not the victim's delta.
    const small = Array.from(stripped).filter((w) => signedWord(16, w) >= -30 && signedWord(16, w) <= 30).length;
    assert.ok(small < 20, `${small} of ${params} words look like the victim's input`);
    // Its self-seed share keys were never revealed: asking again with the true list is refused.
    const honest = ps.map((p) => p.address).sort();
    assert.throws(() => ps[1]?.confirm(honest, adverts, 3), (e: unknown) => e instanceof SecAggFault && e.code === 'SECOND_SURVIVOR_LIST');
    assert.throws(() => ps[1]?.reveal(honest, adverts, 3, proof), (e: unknown) => e instanceof SecAggFault && e.code === 'SECOND_SURVIVOR_LIST');
    // A reveal that opens the self share of a client the list calls dropped is refused as a whole.
    const body = ps[2]!.reveal(lie, adverts, 3, proof);
    const forged = (await signSecAggMessage(wallets[2] as Wallet, domain, 'reveal', { ...body, keys: body.keys.map((k) => (k.dealer === victimAddr ? { ...k, kind: 'self' as const } : k)) })) as Reveal;
    assert.throws(() => checkReveal(domain, scope, checked, forged), (e: unknown) => e instanceof SecAggFault && e.code === 'WRONG_KIND');
  });

  test('a tampered masked upload or reveal is caught and named', async () => {
    const inputs = randomInputs(5, 257, 16, 6);
    const { transcript, masked } = await simulateSecureRound({ domain, task: 1, round: 1, bits: 16, threshold: 3, wallets, inputs, dropAfterUpload: [1] });
    // A changed reveal key: its signature no longer matches.
    const r0 = transcript.reveals[0] as Reveal;
    const k0 = r0.keys[0]!;
    const flipped = { ...r0, keys: [{ ...k0, key: toHex(fromHex(k0.key).map((b, i) => (i === 0 ? b ^ 1 : b))) }, ...r0.keys.slice(1)] };
    await assert.rejects(
      unmaskTranscript(domain, { ...transcript, reveals: [flipped, ...transcript.reveals.slice(1)] }, 16, (c) => masked.get(c) as RingWords, 257),
      (e: unknown) => e instanceof SecAggFault && e.code === 'BAD_SIGNATURE' && e.artefact === `reveal/${r0.client}`,
    );
    // A changed self-commitment: the bundle's signature breaks.
    const b0 = transcript.bundles[0]!;
    await assert.rejects(
      unmaskTranscript(domain, { ...transcript, bundles: [{ ...b0, selfCommitment: `0x${'00'.repeat(32)}` }, ...transcript.bundles.slice(1)] }, 16, (c) => masked.get(c) as RingWords, 257),
      (e: unknown) => e instanceof SecAggFault && e.artefact === `shares/${b0.client}`,
    );
    // The silent survivor struck from the list: every reveal answers another list.
    const silent = wallets[1]!.address.toLowerCase();
    await assert.rejects(
      unmaskTranscript(domain, { ...transcript, survivors: transcript.survivors.filter((s) => s !== silent) }, 16, (c) => masked.get(c) as RingWords, 257),
      (e: unknown) => e instanceof SecAggFault && e.code === 'OTHER_SURVIVORS',
    );
    // A changed masked word changes the sum (the audit compares the checkpoint it decodes to).
    const first = transcript.survivors[0] as string;
    const bad = (masked.get(first) as RingWords).slice();
    bad[0] = (bad[0] as number) + 1;
    const sum = await unmaskTranscript(domain, transcript, 16, (c) => (c === first ? bad : (masked.get(c) as RingWords)), 257);
    assert.notDeepEqual(sum, plainSum(inputs, 16));
  });

  test('a wrong share key is refused with a reason and the round still unmasks', async () => {
    const inputs = randomInputs(5, 129, 16, 8);
    const scope = { chainId: domain.chainId, task: 1, round: 1 };
    const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
    const adverts = (await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i] as Wallet, domain, 'keys', p.advert())))).sort((a, b) => (a.client < b.client ? -1 : 1));
    const bundles = (await Promise.all(ps.map(async (p, i) => signSecAggMessage(wallets[i] as Wallet, domain, 'shares', await p.shareBundle(adverts, 3))))).sort((a, b) => (a.client < b.client ? -1 : 1));
    const ys = new Map(ps.map((p, i) => [p.address, p.maskInput(inputs[i] as RingWords, 16, adverts)]));
    const survivors = ps.map((p) => p.address).sort();
    const confirmations = (await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i] as Wallet, domain, 'consistency', p.confirm(survivors, adverts, 3))))).sort((a, b) => (a.client < b.client ? -1 : 1)) as Confirmation[];
    const reveals: Reveal[] = [];
    for (const [i, p] of ps.entries()) {
      const body = p.reveal(survivors, adverts, 3, { domain, confirmations, required: 3 });
      // Client 3 reveals a garbage key for the first dealer (and signs it: a liar, not a forger).
      if (i === 3) body.keys[0] = { ...body.keys[0]!, key: `0x${'11'.repeat(32)}` };
      reveals.push((await signSecAggMessage(wallets[i] as Wallet, domain, 'reveal', body)) as Reveal);
    }
    const transcript: SecureTranscript = { format: 2, task: 1, round: 1, threshold: 3, adverts, bundles, survivors: survivors as `0x${string}`[], survivorThreshold: 3, confirmations, reveals: reveals.sort((a, b) => (a.client < b.client ? -1 : 1)) };
    const checked = checkTranscript(domain, transcript);
    const secrets = await recoverSecrets(domain, checked);
    assert.equal(secrets.refused.length, 1);
    assert.match(secrets.refused[0]!.reason, /does not open the self share/);
    assert.equal(secrets.refused[0]!.holder, ps[3]?.address);
    const sum = zeroWords(16, 129);
    for (const s of survivors) addWords(sum, ys.get(s) as RingWords);
    unmaskSum(checked, secrets, 16, sum);
    assert.deepEqual(sum, plainSum(inputs, 16));
  });
});
