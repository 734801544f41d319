import { z } from 'zod';

/**
 * Settings of a secure-aggregation task (docs/secure-mode.md). They fix the fixed-point encoding
 * every client uses and the ring the masks live in, so they are part of the task and of every
 * round's manifest, and the auditor decodes the sum with exactly these numbers.
 *
 * Why the ring is 2^bits wide and not 2^32: a masked word is uniform over the ring, so the ring's
 * width is the upload's width. With bits = 16 an upload is half the bytes of float32. The price is
 * headroom: the sum of every client's value (and the DP noise) must fit in a signed `bits`-bit word,
 * so the scale shrinks as maxClients grows (secureScale below).
 */
export const SecureAggConfig = z
  .strictObject({
  /** Width of the ring Z_{2^bits} of uploads and masks: 16 (default) or 8. */
  bits: z.union([z.literal(16), z.literal(8)]).default(16),
  /** Each client scales its delta down to at most this L2 norm before quantising. */
  clipNorm: z.number().positive().max(1e6),
  /**
   * Each coordinate is then clamped to [-range, range]. This is the per-coordinate bound that sizes
   * the scale and the defence against a client that pushes one weight far (no one can inspect a
   * masked update, so clipping on the client and this bound are what limit any one client's pull).
   */
  range: z.number().positive().max(1e6),
  /**
   * The most clients a round of this task may hold: at most 255 on the complete graph (every client
   * holds a share of every secret, and Shamir over GF(2^8) has 255 points), up to 1000 with
   * `neighbours` (a secret then has neighbours + 1 holders).
   */
  maxClients: z.number().int().min(3).max(1000).default(16),
  /**
   * SecAgg+ (graph.ts): each client masks against, and deals shares to, this many others on a ring
   * (an even number), instead of every other client. Omitted: the complete graph. The threshold is
   * then counted within each neighbourhood of neighbours + 1; docs/secure-mode.md gives the degree
   * that keeps an input hidden against a given share of colluders.
   */
  neighbours: z.number().int().min(2).max(254).multipleOf(2).optional(),
  /**
   * Fraction of a secret's holders whose shares are needed to unmask it. The threshold is
   * max(floor(h/2) + 1, ceil(fraction * h)) of the h holders: always a strict majority. Why 2/3 by
   * default: a coordinator that tells some holders a client survived and others that it dropped
   * collects both of its secrets with only 2t - h colluders; at 2/3 that is a third of the holders,
   * the bound of Bonawitz et al.'s active setting (docs/secure-mode.md).
   */
  thresholdFraction: z.number().min(0.5).max(1).default(2 / 3),
  /** Seconds each protocol phase (keys, shares, unmasking) waits for stragglers. */
  phaseSeconds: z.number().positive().max(86400).default(60),
  /** Distributed differential privacy: every client adds its own Skellam noise (protocol/secagg/skellam.ts). */
  dp: z
    .strictObject({
      /** Noise standard deviation of the sum, in units of clipNorm. */
      noiseMultiplier: z.number().min(0.1).max(100),
      delta: z.number().gt(0).lt(0.1),
    })
    .optional(),
  })
  .refine((c) => c.neighbours !== undefined || c.maxClients <= 255, {
    message: 'without neighbours (the complete graph) a round holds at most 255 clients: every client holds a share of every secret',
    path: ['maxClients'],
  });
export type SecureAggConfig = z.infer<typeof SecureAggConfig>;
export type SecureAggInput = z.input<typeof SecureAggConfig>;

/** Standard deviations of DP noise kept free below the ring's edge, so the noisy sum never wraps. */
export const NOISE_HEADROOM_SIGMAS = 8;

/**
 * The fixed-point scale: a float x becomes the integer round(x * scale). It is the largest scale at
 * which maxClients clamped values (each at most ceil(range * scale) after rounding) plus
 * NOISE_HEADROOM_SIGMAS standard deviations of the sum's noise fit in a signed `bits`-bit word:
 *   maxClients * (range * s + 1) + H * z * clipNorm * s <= 2^(bits-1) - 1.
 * Throws when the ring is too narrow for maxClients at all.
 */
export function secureScale(cfg: SecureAggConfig): number {
  const top = 2 ** (cfg.bits - 1) - 1 - cfg.maxClients;
  const perUnit = cfg.maxClients * cfg.range + (cfg.dp ? NOISE_HEADROOM_SIGMAS * cfg.dp.noiseMultiplier * cfg.clipNorm : 0);
  if (top <= 0) throw new RangeError(`a ${cfg.bits}-bit ring cannot hold the sum of ${cfg.maxClients} clients`);
  return top / perUnit;
}

/** The threshold rule over a group of n: a strict majority and at least fraction * n, at least 2. */
export function secureThreshold(n: number, fraction: number): number {
  return Math.min(n, Math.max(Math.floor(n / 2) + 1, Math.ceil(fraction * n), 2));
}

/**
 * The two numbers a round fixes when its key phase ends with n advertisers:
 *   shares    - shares needed to rebuild one client's secret: the threshold rule over the holders
 *               of a secret (all n on the complete graph, neighbours + 1 on a ring);
 *   survivors - the fewest masked uploads the round closes with: the threshold rule over n. The
 *               DP noise is sized for this many survivors, so it must not depend on the graph.
 * On the complete graph both are secureThreshold(n).
 */
export function secureRoundThresholds(cfg: Pick<SecureAggConfig, 'neighbours' | 'thresholdFraction'>, n: number): { shares: number; survivors: number } {
  const survivors = secureThreshold(n, cfg.thresholdFraction);
  const holders = cfg.neighbours !== undefined && cfg.neighbours < n - 1 ? cfg.neighbours + 1 : n;
  return { shares: secureThreshold(holders, cfg.thresholdFraction), survivors };
}

/** The fewest clients a secure round runs with: below three, the sum of two reveals each to the other. */
export const MIN_SECURE_CLIENTS = 3;
