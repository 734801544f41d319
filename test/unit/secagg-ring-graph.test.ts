import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Wallet } from 'ethers';
import { DEFAULT_DOMAIN } from '../../protocol/index.ts';
import {
  addWords,
  applyMasks,
  checkBundle,
  checkReveal,
  checkTranscript,
  combineShares,
  fromHex,
  holdersOf,
  maskGraph,
  maskWords,
  openShare,
  pairwiseMaskSeed,
  recoverSecrets,
  SecAggFault,
  SecAggParticipant,
  SecureAggConfig,
  secureRoundThresholds,
  shareAad,
  shareChannelKey,
  signSecAggMessage,
  signedWord,
  simulateSecureRound,
  survivorsHash,
  zeroWords,
  type Confirmation,
  type KeyAdvert,
  type Reveal,
  type RingWords,
  type SecureTranscript,
  type ShareBundle,
} from '../../protocol/secagg/index.ts';
import { RING_SIMD_MODULE, simdRing } from '../../protocol/secagg/ring-simd.ts';

const domain = DEFAULT_DOMAIN;
const scope = { chainId: domain.chainId, task: 3, round: 2 };
const addr = (i: number) => `0x${(i + 1).toString(16).padStart(40, '0')}`;
const byClient = <T extends { client: string }>(xs: T[]) => xs.sort((a, b) => (a.client < b.client ? -1 : 1));

function smallInputs(n: number, params: number, bits: 16 | 8): RingWords[] {
  return Array.from({ length: n }, (_, c) => {
    const w = zeroWords(bits, params);
    for (let i = 0; i < params; i++) w[i] = ((i * 31 + c * 17) % 61) - 30;
    return w;
  });
}
function plainSum(inputs: RingWords[], bits: 16 | 8): RingWords {
  const s = zeroWords(bits, (inputs[0] as RingWords).length);
  for (const x of inputs) addWords(s, x);
  return s;
}

describe('SecAgg+ ring graph', () => {
  test('every client has exactly k neighbours, symmetric, whatever the input order', () => {
    const clients = Array.from({ length: 17 }, (_, i) => addr(i));
    const g = maskGraph(scope, clients, 6);
    const again = maskGraph(scope, [...clients].reverse(), 6);
    assert.equal(g.degree, 6);
    for (const c of clients) {
      const ns = g.neighbours(c);
      assert.equal(ns.length, 6, `${c} has ${ns.length} neighbours`);
      assert.ok(!ns.includes(c));
      assert.deepEqual([...ns], [...ns].sort());
      assert.deepEqual(again.neighbours(c), ns);
      for (const x of clients) assert.equal(g.adjacent(c, x), ns.includes(x), `adjacent(${c}, ${x})`);
      for (const x of ns) assert.ok(g.neighbours(x).includes(c), 'the graph is symmetric');
      assert.deepEqual(holdersOf(g, c), [...ns, c].sort());
    }
  });

  test('another round places the clients elsewhere; a missing client only closes the ring around it', () => {
    const clients = Array.from({ length: 12 }, (_, i) => addr(i));
    const g = maskGraph(scope, clients, 2);
    const other = maskGraph({ ...scope, round: 3 }, clients, 2);
    assert.ok(clients.some((c) => g.neighbours(c).join() !== other.neighbours(c).join()), 'the ring depends on the round');
    const gone = clients[5] as string;
    const [left, right] = g.neighbours(gone) as [string, string];
    const without = maskGraph(scope, clients.filter((c) => c !== gone), 2);
    // Degree 2: the two clients on either side of the missing one become each other's neighbours.
    assert.ok(without.adjacent(left, right));
    for (const c of clients) if (c !== gone && c !== left && c !== right) assert.deepEqual(without.neighbours(c), g.neighbours(c));
  });

  test('a round no larger than k + 1 is the complete graph; a bad degree is refused', () => {
    const clients = Array.from({ length: 5 }, (_, i) => addr(i));
    assert.equal(maskGraph(scope, clients, 4).degree, null);
    assert.equal(maskGraph(scope, clients, undefined).neighbours(addr(0)).length, 4);
    assert.throws(() => maskGraph(scope, [...clients, addr(9), addr(10)], 3), RangeError);
    assert.throws(() => maskGraph(scope, [addr(1), addr(1), addr(2)], 2), RangeError);
    assert.throws(() => SecureAggConfig.parse({ clipNorm: 1, range: 0.1, neighbours: 5 }));
    assert.throws(() => SecureAggConfig.parse({ clipNorm: 1, range: 0.1, maxClients: 300 }), /255 clients/);
    assert.equal(SecureAggConfig.parse({ clipNorm: 1, range: 0.001, maxClients: 300, neighbours: 8 }).maxClients, 300);
  });

  test('thresholds: shares counted per neighbourhood, survivors over the round', () => {
    const cfg = { thresholdFraction: 0.6 };
    assert.deepEqual(secureRoundThresholds(cfg, 10), { shares: 6, survivors: 6 });
    assert.deepEqual(secureRoundThresholds({ ...cfg, neighbours: 4 }, 10), { shares: 3, survivors: 6 });
    assert.deepEqual(secureRoundThresholds({ ...cfg, neighbours: 8 }, 9), { shares: 6, survivors: 6 }, 'n <= k + 1: complete');
  });
});

describe('mask engine', () => {
  test('the SIMD module is valid WebAssembly and present in Node', () => {
    assert.ok(WebAssembly.validate(RING_SIMD_MODULE));
    assert.ok(simdRing(), 'Node 20 has WebAssembly SIMD');
  });

  for (const bits of [16, 8] as const) {
    test(`applyMasks equals expanding and adding each mask (${bits}-bit)`, () => {
      for (const n of [1, 7, 8, 9, 31, 32768, 32769, 65537, 100_003]) {
        const masks = Array.from({ length: 4 }, (_, i) => ({ seed: new Uint8Array(randomBytes(32)), sign: (i % 2 ? -1 : 1) as 1 | -1 }));
        const a = zeroWords(bits, n);
        for (let i = 0; i < n; i++) a[i] = (i * 7919) & (bits === 16 ? 0xffff : 0xff);
        const b = a.slice();
        applyMasks(a, bits, masks);
        for (const m of masks) addWords(b, maskWords(m.seed, bits, n), m.sign);
        assert.ok(a.every((v, i) => v === b[i]), `${n} words`);
      }
      // A view that does not start at its buffer's first byte.
      const buf = zeroWords(bits, 5001);
      const view = bits === 16 ? new Uint16Array(buf.buffer, 2, 4999) : new Uint8Array(buf.buffer, 1, 4999);
      const copy = view.slice();
      const m = [{ seed: new Uint8Array(32).fill(9), sign: 1 as const }];
      applyMasks(view, bits, m);
      addWords(copy, maskWords(m[0]!.seed, bits, 4999));
      assert.deepEqual(Array.from(view), Array.from(copy));
      assert.equal(buf[0], 0, 'nothing before the view is touched');
      assert.equal(buf[5000], 0, 'nothing after the view is touched');
    });
  }

  test('a mask and its negation cancel exactly; a wrong width or seed is refused', () => {
    const x = zeroWords(16, 70_000).map((_, i) => i);
    const seed = new Uint8Array(32).fill(3);
    const y = x.slice();
    applyMasks(y, 16, [{ seed, sign: 1 }]);
    assert.ok(y.some((v, i) => v !== x[i]));
    applyMasks(y, 16, [{ seed, sign: -1 }]);
    assert.deepEqual(y, x);
    assert.throws(() => applyMasks(zeroWords(8, 4), 16, []), TypeError);
    assert.throws(() => applyMasks(zeroWords(16, 4), 16, [{ seed: new Uint8Array(31), sign: 1 }]), RangeError);
  });
});

describe('SecAgg+ round on a ring', () => {
  const n = 12;
  const k = 4;
  const wallets = Array.from({ length: n }, (_, i) => new Wallet(`0x${(i + 101).toString(16).padStart(64, '0')}`));
  const threshold = secureRoundThresholds({ thresholdFraction: 0.6, neighbours: k }, n).shares;

  test('the sum is exact with dropouts before and after the upload; each bundle deals k + 1 shares', async () => {
    const inputs = smallInputs(n, 1001, 16);
    const { sum, transcript } = await simulateSecureRound({ domain, ...scope, bits: 16, threshold, neighbours: k, wallets, inputs, dropBeforeUpload: [3], dropAfterUpload: [7, 8] });
    assert.equal(transcript.neighbours, k);
    for (const b of transcript.bundles) assert.equal(b.shares.length, k + 1);
    assert.deepEqual(sum, plainSum(inputs.filter((_, i) => i !== 3), 16));
    const checked = checkTranscript(domain, transcript);
    assert.equal(checked.graph.degree, k);
  });

  test('8-bit ring, no dropout', async () => {
    const inputs = smallInputs(n, 333, 8);
    const { sum } = await simulateSecureRound({ domain, ...scope, bits: 8, threshold, neighbours: k, wallets, inputs });
    assert.deepEqual(sum, plainSum(inputs, 8));
  });

  test('a neighbourhood that loses more than it tolerates fails the round by name', async () => {
    // Both neighbours on one side and the client itself gone after uploading leave its self-seed with too few holders.
    const g = maskGraph(scope, wallets.map((w) => w.address.toLowerCase()), k);
    const victim = wallets[0]!.address.toLowerCase();
    const ns = g.neighbours(victim);
    const silent = [0, ...ns.slice(0, 2).map((a) => wallets.findIndex((w) => w.address.toLowerCase() === a))];
    await assert.rejects(
      simulateSecureRound({ domain, ...scope, bits: 16, threshold, neighbours: k, wallets, inputs: smallInputs(n, 65, 16), dropAfterUpload: silent }),
      (e: unknown) => e instanceof SecAggFault && e.code === 'NOT_ENOUGH_SHARES',
    );
  });

  test('a bundle for the whole round, or a reveal for a non-neighbour, is refused by name', async () => {
    const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
    const adverts = byClient(await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i]!, domain, 'keys', p.advert())))) as KeyAdvert[];
    const advertMap = new Map(adverts.map((a) => [a.client as string, a]));
    const ring = maskGraph(scope, [...advertMap.keys()], k);
    // Dealt as on the complete graph: one share pair per advertiser.
    const complete = (await signSecAggMessage(wallets[0]!, domain, 'shares', await ps[0]!.shareBundle(adverts, threshold))) as ShareBundle;
    assert.throws(() => checkBundle(domain, scope, advertMap, ring, complete), (e: unknown) => e instanceof SecAggFault && e.code === 'BAD_SHARES' && /ring neighbours/.test(e.message));
    const bundles = byClient(await Promise.all(ps.map(async (p, i) => signSecAggMessage(wallets[i]!, domain, 'shares', await p.shareBundle(adverts, threshold, k))))) as ShareBundle[];
    for (const b of bundles) checkBundle(domain, scope, advertMap, ring, b);
    const survivors = ps.map((p) => p.address).sort();
    const me = ps[1]!;
    const confirmations = byClient(await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i]!, domain, 'consistency', p.confirm(survivors, adverts, threshold))))) as Confirmation[];
    const body = me.reveal(survivors, adverts, threshold, { domain, confirmations, required: threshold });
    assert.equal(body.keys.length, k + 1, 'a client reveals for its neighbours and itself only');
    const stranger = survivors.find((s) => s !== me.address && !ring.adjacent(s, me.address)) as string;
    const forged = (await signSecAggMessage(wallets[1]!, domain, 'reveal', { ...body, keys: [...body.keys, { dealer: stranger as `0x${string}`, kind: 'self' as const, key: `0x${'22'.repeat(32)}` }] })) as Reveal;
    const parties = { adverts: advertMap, bundles: new Map(bundles.map((b) => [b.client as string, b])), survivors, graph: ring };
    assert.throws(() => checkReveal(domain, scope, parties, forged), (e: unknown) => e instanceof SecAggFault && e.code === 'NOT_A_HOLDER');
  });

  test('a coordinator that claims a live client dropped still faces its self-mask', async () => {
    const params = 2001;
    const inputs = smallInputs(n, params, 16);
    const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
    const adverts = byClient(await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i]!, domain, 'keys', p.advert())))) as KeyAdvert[];
    const bundles = byClient(await Promise.all(ps.map(async (p, i) => signSecAggMessage(wallets[i]!, domain, 'shares', await p.shareBundle(adverts, threshold, k))))) as ShareBundle[];
    const ys = ps.map((p, i) => p.maskInput(inputs[i]!, 16, adverts));
    const victim = ps[0]!.address;
    const lie = ps.map((p) => p.address).filter((a) => a !== victim).sort();
    const confirmations = byClient(await Promise.all(ps.slice(1).map((p, j) => signSecAggMessage(wallets[j + 1]!, domain, 'consistency', p.confirm(lie, adverts, threshold))))) as Confirmation[];
    const proof = { domain, confirmations, required: lie.length };
    const reveals = byClient(await Promise.all(ps.slice(1).map((p, j) => signSecAggMessage(wallets[j + 1]!, domain, 'reveal', p.reveal(lie, adverts, threshold, proof))))) as Reveal[];
    const transcript: SecureTranscript = { format: 2, ...scope, threshold, neighbours: k, adverts, bundles, survivors: lie as `0x${string}`[], survivorThreshold: lie.length, confirmations, reveals };
    const checked = checkTranscript(domain, transcript);
    const secrets = await recoverSecrets(domain, checked);
    const stripped = ys[0]!.slice();
    for (const nb of checked.graph.neighbours(victim)) {
      const seed = pairwiseMaskSeed(scope, secrets.maskKeys.get(victim)!, fromHex(adverts.find((a) => a.client === nb)!.sPk), victim, nb);
      addWords(stripped, maskWords(seed, 16, params), victim < nb ? -1 : 1);
    }
    const small = Array.from(stripped).filter((w) => Math.abs(signedWord(16, w)) <= 30).length;
    assert.ok(small < 20, `${small} of ${params} words look like the victim's input`);
  });

  test('a coordinator that shows two survivor lists unmasks a client without the consistency check, and not with it', async () => {
    // The attack the consistency phase stops (docs/secure-mode.md): one colluder among the victim's
    // k + 1 holders, 2t - h = 1. The coordinator tells two of the victim's honest neighbours that
    // the victim dropped (list L1) and the victim and its third honest neighbour that it survived
    // (list L2), so one group reveals the victim's mask-key shares and the other its self-seed shares.
    const params = 1001;
    const inputs = smallInputs(n, params, 16);
    const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
    const adverts = byClient(await Promise.all(ps.map((p, i) => signSecAggMessage(wallets[i]!, domain, 'keys', p.advert())))) as KeyAdvert[];
    const bundles = byClient(await Promise.all(ps.map(async (p, i) => signSecAggMessage(wallets[i]!, domain, 'shares', await p.shareBundle(adverts, threshold, k))))) as ShareBundle[];
    const ys = ps.map((p, i) => p.maskInput(inputs[i]!, 16, adverts));
    const graph = maskGraph(scope, adverts.map((a) => a.client), k);
    const index = (a: string) => ps.findIndex((p) => p.address === a);
    const victim = 0;
    const V = ps[victim]!.address;
    const [colluder, nb1, nb2, nb3] = graph.neighbours(V).map(index) as [number, number, number, number];
    const L1 = ps.map((p) => p.address).filter((a) => a !== V).sort();
    const L2 = ps.map((p) => p.address).sort();
    // Every honest client is shown one list; the others split as evenly as the coordinator likes.
    const others = ps.map((_, i) => i).filter((i) => ![victim, colluder, nb1, nb2, nb3].includes(i));
    const groupA = [nb1, nb2, ...others.slice(0, 3)];
    const groupB = [victim, nb3, ...others.slice(3)];
    const confirmationsOf = async (group: number[], list: string[]) => {
      const honest = await Promise.all(group.map((i) => signSecAggMessage(wallets[i]!, domain, 'consistency', ps[i]!.confirm(list, adverts, threshold))));
      // The colluder signs both lists.
      const bent = await signSecAggMessage(wallets[colluder]!, domain, 'consistency', { ...scope, client: ps[colluder]!.address as `0x${string}`, advertisersHash: survivorsHash(L2), survivorsHash: survivorsHash(list) });
      return byClient([...honest, bent]) as Confirmation[];
    };
    const c1 = await confirmationsOf(groupA, L1);
    const c2 = await confirmationsOf(groupB, L2);
    const required = secureRoundThresholds({ thresholdFraction: 0.6, neighbours: k }, n).survivors;
    assert.ok(c1.length < required && c2.length < required, `${c1.length} and ${c2.length} confirmations, ${required} required`);

    // With the check, neither group reveals anything.
    const tooFew = (e: unknown) => e instanceof SecAggFault && e.code === 'TOO_FEW_CONFIRMATIONS';
    assert.throws(() => ps[nb1]!.reveal(L1, adverts, threshold, { domain, confirmations: c1, required }), tooFew);
    assert.throws(() => ps[victim]!.reveal(L2, adverts, threshold, { domain, confirmations: c2, required }), tooFew);

    // Without it (any client that would reveal on what it alone was shown, as before the phase):
    // the two groups' shares plus the colluder's rebuild both secrets and unmask the victim.
    const none = { domain, confirmations: [] as Confirmation[], required: 0 };
    const parties = (list: string[]) => ({ adverts: new Map(adverts.map((a) => [a.client as string, a])), bundles: new Map(bundles.map((b) => [b.client as string, b])), survivors: list, graph });
    const opened = async (i: number, list: string[], kind: 'self' | 'key') => {
      const r = (await signSecAggMessage(wallets[i]!, domain, 'reveal', ps[i]!.reveal(list, adverts, threshold, none))) as Reveal;
      return checkReveal(domain, scope, parties(list), r).opened.find((o) => o.dealer === V && o.kind === kind)!.share;
    };
    const colluderShare = (kind: 'self' | 'key') => {
      const me = ps[colluder]!;
      const sealed = bundles.find((b) => b.client === V)!.shares.find((x) => x.to === me.address)![kind];
      return openShare(shareChannelKey(scope, me.c.secretKey, fromHex(adverts.find((a) => a.client === V)!.cPk), V, me.address, kind), fromHex(sealed), shareAad(scope, V, me.address, kind))!;
    };
    const maskKey = await combineShares([await opened(nb1, L1, 'key'), await opened(nb2, L1, 'key'), colluderShare('key')]);
    const selfSeed = await combineShares([await opened(victim, L2, 'self'), await opened(nb3, L2, 'self'), colluderShare('self')]);
    const x = ys[victim]!.slice();
    applyMasks(x, 16, [
      { seed: selfSeed, sign: -1 },
      ...graph.neighbours(V).map((nb) => ({ seed: pairwiseMaskSeed(scope, maskKey, fromHex(adverts.find((a) => a.client === nb)!.sPk), V, nb), sign: (V < nb ? -1 : 1) as 1 | -1 })),
    ]);
    assert.deepEqual(x, inputs[victim], 'without the consistency check the victim\'s input is out');
  });

  test('more than 255 clients on a ring of degree 8', async () => {
    const many = Array.from({ length: 300 }, () => Wallet.createRandom());
    const t = secureRoundThresholds({ thresholdFraction: 0.6, neighbours: 8 }, many.length).shares;
    const inputs = smallInputs(many.length, 64, 16);
    const { sum, transcript } = await simulateSecureRound({ domain, ...scope, bits: 16, threshold: t, neighbours: 8, wallets: many, inputs, dropAfterUpload: [10, 200] });
    assert.equal(transcript.bundles[0]!.shares.length, 9);
    assert.deepEqual(sum, plainSum(inputs, 16));
  });
});
