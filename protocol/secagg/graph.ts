import { keccak_256 } from '@noble/hashes/sha3.js';
import type { SecAggScope } from './keys.ts';

/**
 * Who masks against whom in a secure round, and who holds whose shares.
 *
 * Complete graph (Bonawitz et al. 2017, the default): every client masks against every other and
 * deals a share of each secret to every client. A client's work grows with the round's size.
 *
 * Ring graph of degree k (SecAgg+, Bell et al. 2020, their "random Harary graph"): the round's
 * key advertisers are placed on a ring in the order of a public hash of each client's name and
 * the round, and every client is joined to the k/2 clients before it and the k/2 after it. A
 * client masks against its k neighbours only, deals shares to them and itself only, and the
 * threshold counts within that neighbourhood of k + 1. A client's work no longer grows with the
 * round, only with k.
 *
 * Why the ring position hashes the client and the round but nothing else: no one can choose it
 * (not the coordinator, which sees keys before it fixes the advertiser list, nor a client grinding
 * its ephemeral keys), and removing clients only closes the ring around them, so what a
 * coordinator can steer by refusing adverts is who is absent, which it can always do anyway.
 * What degree keeps a client's input hidden against how many colluders: docs/secure-mode.md.
 */
export interface MaskGraph {
  /** Degree of the ring, or null for the complete graph (also when the round is too small for the ring). */
  readonly degree: number | null;
  /** A client's neighbours, ascending, the client itself not included. */
  neighbours(client: string): readonly string[];
  /** Whether the two clients mask against each other (and each holds the other's shares). */
  adjacent(a: string, b: string): boolean;
}

const LABEL = new TextEncoder().encode('fl-secagg/v1/ring-position');

/** A client's place on the round's ring: keccak256(label, chainId, task, round, client), hex. */
export function ringPosition(scope: SecAggScope, client: string): string {
  const tail = new TextEncoder().encode(`${scope.chainId}:${scope.task}:${scope.round}:${client.toLowerCase()}`);
  const h = new Uint8Array(LABEL.length + tail.length);
  h.set(LABEL);
  h.set(tail, LABEL.length);
  return Array.from(keccak_256(h), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The round's graph over `clients` (the key advertisers, any order, no repeats). `degree` is the
 * task's `neighbours` setting; when it is absent, or the round has no more than degree + 1 clients,
 * the graph is complete.
 */
export function maskGraph(scope: SecAggScope, clients: readonly string[], degree?: number | null): MaskGraph {
  const all = [...new Set(clients)].sort();
  if (all.length !== clients.length) throw new RangeError('a client appears twice among the round\'s clients');
  if (degree == null || degree >= all.length - 1) {
    const members = new Set(all);
    return {
      degree: null,
      neighbours: (c) => (members.has(c) ? all.filter((x) => x !== c) : []),
      adjacent: (a, b) => a !== b && members.has(a) && members.has(b),
    };
  }
  if (degree < 2 || degree % 2 !== 0) throw new RangeError(`the ring's degree must be an even number of at least 2, got ${degree}`);
  const ring = all.map((c) => ({ c, p: ringPosition(scope, c) })).sort((x, y) => (x.p < y.p ? -1 : x.p > y.p ? 1 : x.c < y.c ? -1 : 1)).map((x) => x.c);
  const at = new Map(ring.map((c, i) => [c, i]));
  const n = ring.length;
  const half = degree / 2;
  const table = new Map<string, string[]>();
  for (const [i, c] of ring.entries()) {
    const ns: string[] = [];
    for (let d = 1; d <= half; d++) ns.push(ring[(i + d) % n] as string, ring[(i - d + n) % n] as string);
    table.set(c, ns.sort());
  }
  return {
    degree,
    neighbours: (c) => table.get(c) ?? [],
    adjacent: (a, b) => {
      const i = at.get(a);
      const j = at.get(b);
      if (i === undefined || j === undefined || i === j) return false;
      const gap = Math.abs(i - j);
      return Math.min(gap, n - gap) <= half;
    },
  };
}

/** The clients that hold a share of `dealer`'s secrets: its neighbours and itself, ascending. */
export function holdersOf(graph: MaskGraph, dealer: string): string[] {
  return [...graph.neighbours(dealer), dealer].sort();
}
