import { Wallet } from 'ethers';
import { DEFAULT_DOMAIN } from '../protocol/index.ts';
import { SecAggParticipant, secureThreshold, signSecAggMessage, checkTranscript, recoverSecrets, zeroWords, addWords, unmaskSum } from '../protocol/secagg/index.ts';
const n = Number(process.argv[2]); const P = Number(process.argv[3]);
const domain = DEFAULT_DOMAIN; const scope = { chainId: domain.chainId, task: 1, round: 1 };
const th = secureThreshold(n, 0.6);
const wallets = Array.from({ length: n }, () => Wallet.createRandom());
const ps = wallets.map((w) => new SecAggParticipant(scope, w.address.toLowerCase()));
const T: Record<string, number> = {};
const tm = async <X>(k: string, f: () => Promise<X> | X) => { const t = performance.now(); const r = await f(); T[k] = (T[k] ?? 0) + performance.now() - t; return r; };
const adverts: any[] = [];
for (const [i, p] of ps.entries()) adverts.push(await tm('sign', () => signSecAggMessage(wallets[i]!, domain, 'keys', p.advert())));
adverts.sort((a, b) => (a.client < b.client ? -1 : 1));
const bundles: any[] = [];
for (const [i, p] of ps.entries()) { const b = await tm('shareBundle', () => p.shareBundle(adverts, th)); bundles.push(await tm('sign', () => signSecAggMessage(wallets[i]!, domain, 'shares', b))); }
bundles.sort((a, b) => (a.client < b.client ? -1 : 1));
const masked = new Map();
for (const p of ps) masked.set(p.address, await tm('mask', () => p.maskInput(zeroWords(16, P), 16, adverts)));
const survivors = [...masked.keys()].sort();
const reveals: any[] = [];
for (const [i, p] of ps.entries()) { const r = await tm('reveal', () => p.reveal(survivors, adverts, th)); reveals.push(await tm('sign', () => signSecAggMessage(wallets[i]!, domain, 'reveal', r))); }
reveals.sort((a, b) => (a.client < b.client ? -1 : 1));
const checked = await tm('checkTranscript', () => checkTranscript(domain, { format: 1, task: 1, round: 1, threshold: th, adverts, bundles, survivors, reveals } as any));
const secrets = await tm('recover', () => recoverSecrets(domain, checked));
const sum = zeroWords(16, P);
await tm('sum', () => { for (const s of survivors) addWords(sum, masked.get(s)); });
await tm('unmask', () => unmaskSum(checked, secrets, 16, sum));
console.log(Object.fromEntries(Object.entries(T).map(([k, v]) => [k, Math.round(v)])));
