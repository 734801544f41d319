import { Prng } from '../../protocol/prng.ts';

/**
 * How a data set is dealt out to simulated data owners. Federated learning is interesting (and
 * hard) when owners hold different label mixes, so besides the IID split we provide the usual
 * Dirichlet label skew: each class is divided among clients in proportions ~ Dirichlet(alpha);
 * small alpha (0.1) gives owners a few dominant classes, large alpha (100) is nearly IID.
 * Every function is a pure function of its arguments and seed, so a simulation can be replayed.
 */
export interface DirichletOptions {
  /** Smallest number of samples any client may end with (default min(10, floor(n / numClients))). */
  minPerClient?: number;
  /** Fresh draws to try before forcing the minimum by moving samples (default 100). */
  maxAttempts?: number;
}

function checkClients(numClients: number, n: number): void {
  if (!Number.isInteger(numClients) || numClients < 1) throw new RangeError(`numClients must be a positive integer, got ${numClients}`);
  if (numClients > n) throw new RangeError(`cannot give ${numClients} clients at least one of ${n} samples each`);
}

/** One Dirichlet(alpha, ..., alpha) draw of k proportions. */
function dirichlet(rng: Prng, k: number, alpha: number): number[] {
  const g = Array.from({ length: k }, () => rng.gamma(alpha));
  const sum = g.reduce((a, b) => a + b, 0);
  if (sum > 0 && Number.isFinite(sum)) return g.map((v) => v / sum);
  // Tiny alpha can underflow every gamma draw to 0; the limit of the distribution is one-hot.
  const p = new Array<number>(k).fill(0);
  p[Math.floor(rng.next() * k)] = 1;
  return p;
}

function dirichletDraw(byClass: number[][], numClients: number, alpha: number, rng: Prng): number[][] {
  const clients: number[][] = Array.from({ length: numClients }, () => []);
  for (const members of byClass) {
    if (members.length === 0) continue;
    const idx = rng.shuffle([...members]);
    const p = dirichlet(rng, numClients, alpha);
    // Cut points from cumulative proportions, so the pieces always add up to the class size.
    let cum = 0;
    let start = 0;
    for (let k = 0; k < numClients; k++) {
      cum += p[k]!;
      const end = k === numClients - 1 ? idx.length : Math.min(idx.length, Math.round(cum * idx.length));
      for (let j = start; j < end; j++) clients[k]!.push(idx[j]!);
      start = Math.max(start, end);
    }
  }
  return clients;
}

/** Non-IID split by label: each class's samples go to clients in Dirichlet(alpha) proportions. */
export function dirichletPartition(
  labels: ArrayLike<number>,
  numClients: number,
  alpha: number,
  seed: number,
  opts: DirichletOptions = {},
): number[][] {
  const n = labels.length;
  checkClients(numClients, n);
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`alpha must be a positive number, got ${alpha}`);
  const minPer = opts.minPerClient ?? Math.min(10, Math.floor(n / numClients));
  if (!Number.isInteger(minPer) || minPer < 0 || minPer * numClients > n) {
    throw new RangeError(`minPerClient ${minPer} x ${numClients} clients exceeds the ${n} samples`);
  }
  const maxAttempts = opts.maxAttempts ?? 100;

  const byClass: number[][] = [];
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0) throw new RangeError(`label ${c} at index ${i} is not a class index`);
    (byClass[c] ??= []).push(i);
  }
  const classes = Array.from(byClass, (m) => m ?? []);

  const rng = new Prng(seed);
  let clients = dirichletDraw(classes, numClients, alpha, rng);
  for (let attempt = 1; attempt < maxAttempts && clients.some((c) => c.length < minPer); attempt++) {
    clients = dirichletDraw(classes, numClients, alpha, rng);
  }
  // Still short after all attempts (tiny alpha, many clients): top up the poorest client with
  // random samples from the richest, which keeps the skew of everyone else intact.
  for (;;) {
    let poor = 0;
    let rich = 0;
    clients.forEach((c, k) => {
      if (c.length < clients[poor]!.length) poor = k;
      if (c.length > clients[rich]!.length) rich = k;
    });
    if (clients[poor]!.length >= minPer) break;
    const donor = clients[rich]!;
    const j = Math.floor(rng.next() * donor.length);
    clients[poor]!.push(donor[j]!);
    donor[j] = donor[donor.length - 1]!;
    donor.pop();
  }
  return clients.map((c) => c.sort((a, b) => a - b));
}

/** IID split: a seeded shuffle of 0..n-1 dealt into numClients near-equal parts. */
export function iidPartition(n: number, numClients: number, seed: number): number[][] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  checkClients(numClients, n);
  const order = new Prng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const base = Math.floor(n / numClients);
  const extra = n % numClients;
  const out: number[][] = [];
  let start = 0;
  for (let k = 0; k < numClients; k++) {
    const size = base + (k < extra ? 1 : 0);
    out.push(order.slice(start, start + size).sort((a, b) => a - b));
    start += size;
  }
  return out;
}
