/**
 * The int8 wire codec (protocol/wire-codec.ts, issue 17): what one update of 1M parameters costs on
 * the wire and in time, against a float32 update in the same run.
 *   bytes_per_param = encoded bytes / parameters (float32: 4).
 *   decode_ratio    = int8 decode time / a plain multiply-add pass over one float32 update (the
 *                     fold's own step for that update): what the coordinator adds per update.
 *   encode_ms       = the client's encode time (stochastic rounding), once per round per client.
 */
import { decodeWire, encodeWire, roundingSource, wireBytes, WireCodec } from '../protocol/index.ts';
import { randomVector } from './common.ts';

export interface WireResult {
  codec: string;
  params: number;
  bytesPerParam: number;
  encodeMs: number;
  decodeMs: number;
  foldStepMs: number;
  decodeRatio: number;
}

const best = (runs: number, f: () => void) => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    min = Math.min(min, performance.now() - t);
  }
  return min;
};

export function benchWire(o: { params: number; runs: number }): WireResult {
  const wire = WireCodec.parse({ codec: 'int8' });
  const x = randomVector(o.params, 17, 0.01);
  let bytes: Uint8Array = new Uint8Array(0);
  const encodeMs = best(o.runs, () => void (bytes = encodeWire(wire, x, roundingSource(1))));
  const decodeMs = best(o.runs, () => void decodeWire(wire, bytes, o.params));
  const acc = new Float32Array(o.params);
  const foldStepMs = best(o.runs, () => {
    for (let i = 0; i < o.params; i++) acc[i]! += 0.2 * x[i]!;
  });
  return { codec: 'int8', params: o.params, bytesPerParam: wireBytes(wire, o.params) / o.params, encodeMs, decodeMs, foldStepMs, decodeRatio: decodeMs / foldStepMs };
}
