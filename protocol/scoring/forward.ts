import { weightManifest, type LayerSpec, type ModelSpec } from '../model-spec.ts';
import { detExp, detLog } from './det-math.ts';

/**
 * The model's forward pass and validation loss in plain float64 arithmetic, in one fixed order, so
 * every machine computes the same bits (no tfjs backend, no SIMD, no fused multiply-add: JavaScript
 * has none). Contribution scores are this loss before and after a client's delta, and the auditor
 * recomputes them with this same code (docs/contribution-scores.md).
 *
 * The numeric path, exactly:
 *   - weights are the float32 values of the checkpoint (base + delta rounded to float32 per
 *     coordinate, as a checkpoint stores them), read as doubles;
 *   - dense:   out[j] = (sum over i ascending of in[i] * W[i][j]) + b[j];
 *   - conv2d:  out[y][x][f] = (sum over dy, dx, c ascending, skipping padding, of
 *              in[y*s+dy-pt][x*s+dx-pl][c] * K[dy][dx][c][f]) + b[f]; 'same' pads as tfjs does
 *              (total max((out-1)*s + k - n, 0), the smaller half before);
 *   - in both sums a term whose input is exactly 0 is skipped (blank pixels, relu zeros: most of the
 *     work); adding 0 * w would leave the sum unchanged anyway, for every finite weight;
 *   - maxPooling2d takes the first largest value of each window (stride = pool size); flatten and
 *     dropout (inference) leave the row-major buffer as it is;
 *   - relu(x) = x > 0 ? x : 0; tanh and sigmoid from det-math's exp;
 *   - the loss of a sample is the cross-entropy of its label: with a softmax last layer, computed
 *     from the logits as max + log(sum exp(z - max)) - z[label]; otherwise the last layer's outputs
 *     are taken as the logits;
 *   - the mean loss sums the samples' losses in index order, then divides by their count.
 */

export interface LabelledSet {
  /** n * prod(inputShape) features, row-major. */
  x: Float32Array;
  /** Labels in [0, classes). */
  y: Uint8Array | Uint16Array;
  n: number;
}

type Act = LayerSpec extends infer L ? (L extends { activation: infer A } ? A : never) : never;

interface Plan {
  run(w: Float32Array, input: Float64Array): Float64Array;
  /** The last layer's pre-activation outputs (logits) of the last run. */
  logits: Float64Array;
  softmaxLast: boolean;
}

function activate(a: Act, v: Float64Array, from: number, to: number): void {
  switch (a) {
    case 'linear':
      return;
    case 'relu':
      for (let i = from; i < to; i++) v[i] = v[i]! > 0 ? v[i]! : 0;
      return;
    case 'sigmoid':
      for (let i = from; i < to; i++) {
        const x = v[i]!;
        if (x >= 0) v[i] = 1 / (1 + detExp(-x));
        else {
          const e = detExp(x);
          v[i] = e / (1 + e);
        }
      }
      return;
    case 'tanh':
      for (let i = from; i < to; i++) {
        const x = v[i]!;
        const e = detExp(-2 * Math.abs(x));
        const t = (1 - e) / (1 + e);
        v[i] = x < 0 ? -t : t;
      }
      return;
    case 'softmax': {
      let max = -Infinity;
      for (let i = from; i < to; i++) if (v[i]! > max) max = v[i]!;
      let sum = 0;
      for (let i = from; i < to; i++) {
        v[i] = detExp(v[i]! - max);
        sum += v[i]!;
      }
      for (let i = from; i < to; i++) v[i] = v[i]! / sum;
      return;
    }
  }
}

/** Filters up to which a conv2d layer runs the unrolled kernel below (its accumulators are locals). */
const UNROLL_MAX_FILTERS = 32;

type ConvKernel = (w: Float32Array, input: Float64Array, out: Float64Array, h: number, wd: number, c: number, ks: number, s: number, pt: number, pl: number, oh: number, ow: number, k: number, b: number) => void;
const convKernels = new Map<number, ConvKernel>();

/**
 * The conv2d sum of the header for `f` filters with one local accumulator per filter, so each output
 * pixel's f sums stay in registers instead of going through memory for every term (about twice as
 * fast on the demo's model). It performs exactly the generic loop's operations in the same order: each
 * accumulator starts at +0 as the zero-filled output did, gets the same terms in the same (dy, dx, c)
 * order with the same zero inputs skipped, then the bias; so the bits are the same, which the unit
 * tests check against the generic loop. Generated once per filter count (the unrolled statements
 * are the only difference between counts).
 */
function unrolledConv(f: number): ConvKernel {
  const cached = convKernels.get(f);
  if (cached) return cached;
  const idx = Array.from({ length: f }, (_, i) => i);
  const body = `
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let ${idx.map((i) => `a${i} = 0`).join(', ')};
        for (let dy = 0; dy < ks; dy++) {
          const iy = y * s + dy - pt;
          if (iy < 0 || iy >= h) continue;
          for (let dx = 0; dx < ks; dx++) {
            const ix = x * s + dx - pl;
            if (ix < 0 || ix >= wd) continue;
            const inBase = (iy * wd + ix) * c;
            const kBase = k + (dy * ks + dx) * c * ${f};
            for (let ci = 0; ci < c; ci++) {
              const v = input[inBase + ci];
              if (v === 0) continue;
              const kr = kBase + ci * ${f};
              ${idx.map((i) => `a${i} = a${i} + v * w[kr + ${i}];`).join('\n              ')}
            }
          }
        }
        const o = (y * ow + x) * ${f};
        ${idx.map((i) => `out[o + ${i}] = a${i} + w[b + ${i}];`).join('\n        ')}
      }
    }`;
  const kernel = new Function('w', 'input', 'out', 'h', 'wd', 'c', 'ks', 's', 'pt', 'pl', 'oh', 'ow', 'k', 'b', body) as ConvKernel;
  convKernels.set(f, kernel);
  return kernel;
}

/** Compiles a spec into a reusable forward pass (buffers allocated once). */
function plan(spec: ModelSpec, unroll: boolean): Plan {
  const manifest = weightManifest(spec);
  let shape = [...spec.inputShape];
  let t = 0; // next tensor of the manifest
  const steps: ((w: Float32Array, input: Float64Array) => Float64Array)[] = [];
  const lastIndex = spec.layers.length - 1;
  const self: Plan = { run: () => new Float64Array(0), logits: new Float64Array(spec.classes), softmaxLast: false };
  spec.layers.forEach((layer, li) => {
    switch (layer.type) {
      case 'dense': {
        const n = shape[0] as number;
        const u = layer.units;
        const k = manifest.tensors[t++]!.offset;
        const b = manifest.tensors[t++]!.offset;
        const out = new Float64Array(u);
        const isLast = li === lastIndex;
        if (isLast) self.softmaxLast = layer.activation === 'softmax';
        steps.push((w, input) => {
          out.fill(0);
          for (let i = 0; i < n; i++) {
            const v = input[i]!;
            if (v === 0) continue; // see the header: zero inputs add no term
            const row = k + i * u;
            for (let j = 0; j < u; j++) out[j] = out[j]! + v * w[row + j]!;
          }
          for (let j = 0; j < u; j++) out[j] = out[j]! + w[b + j]!;
          if (isLast) self.logits.set(out);
          if (!(isLast && self.softmaxLast)) activate(layer.activation, out, 0, u);
          return out;
        });
        shape = [u];
        break;
      }
      case 'conv2d': {
        const [h, wd, c] = shape as [number, number, number];
        const { kernelSize: ks, strides: s, filters: f, padding } = layer;
        const oh = padding === 'same' ? Math.ceil(h / s) : Math.floor((h - ks) / s) + 1;
        const ow = padding === 'same' ? Math.ceil(wd / s) : Math.floor((wd - ks) / s) + 1;
        const pt = padding === 'same' ? Math.floor(Math.max((oh - 1) * s + ks - h, 0) / 2) : 0;
        const pl = padding === 'same' ? Math.floor(Math.max((ow - 1) * s + ks - wd, 0) / 2) : 0;
        const k = manifest.tensors[t++]!.offset;
        const b = manifest.tensors[t++]!.offset;
        const out = new Float64Array(oh * ow * f);
        const unrolled = unroll && f <= UNROLL_MAX_FILTERS ? unrolledConv(f) : null;
        if (unrolled) {
          steps.push((w, input) => {
            unrolled(w, input, out, h, wd, c, ks, s, pt, pl, oh, ow, k, b);
            activate(layer.activation, out, 0, out.length);
            return out;
          });
          shape = [oh, ow, f];
          break;
        }
        steps.push((w, input) => {
          out.fill(0);
          for (let y = 0; y < oh; y++) {
            for (let x = 0; x < ow; x++) {
              const o = (y * ow + x) * f;
              for (let dy = 0; dy < ks; dy++) {
                const iy = y * s + dy - pt;
                if (iy < 0 || iy >= h) continue;
                for (let dx = 0; dx < ks; dx++) {
                  const ix = x * s + dx - pl;
                  if (ix < 0 || ix >= wd) continue;
                  const inBase = (iy * wd + ix) * c;
                  const kBase = k + (dy * ks + dx) * c * f;
                  for (let ci = 0; ci < c; ci++) {
                    const v = input[inBase + ci]!;
                    if (v === 0) continue; // see the header: zero inputs add no term
                    const kr = kBase + ci * f;
                    for (let fi = 0; fi < f; fi++) out[o + fi] = out[o + fi]! + v * w[kr + fi]!;
                  }
                }
              }
              for (let fi = 0; fi < f; fi++) out[o + fi] = out[o + fi]! + w[b + fi]!;
            }
          }
          activate(layer.activation, out, 0, out.length);
          return out;
        });
        shape = [oh, ow, f];
        break;
      }
      case 'maxPooling2d': {
        const [h, wd, c] = shape as [number, number, number];
        const p = layer.poolSize;
        const oh = Math.floor((h - p) / p) + 1;
        const ow = Math.floor((wd - p) / p) + 1;
        const out = new Float64Array(oh * ow * c);
        steps.push((_w, input) => {
          for (let y = 0; y < oh; y++) {
            for (let x = 0; x < ow; x++) {
              for (let ci = 0; ci < c; ci++) {
                let m = -Infinity;
                for (let dy = 0; dy < p; dy++) for (let dx = 0; dx < p; dx++) {
                  const v = input[((y * p + dy) * wd + (x * p + dx)) * c + ci]!;
                  if (v > m) m = v;
                }
                out[(y * ow + x) * c + ci] = m;
              }
            }
          }
          return out;
        });
        shape = [oh, ow, c];
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'dropout':
        break;
    }
  });
  self.run = (w, input) => {
    let v = input;
    for (const step of steps) v = step(w, v);
    return v;
  };
  return self;
}

export interface Evaluation {
  /** Mean cross-entropy over the set (may be Infinity or NaN for broken weights). */
  loss: number;
  /** Each sample's cross-entropy, in set order. */
  losses: Float64Array;
  /** Samples whose largest output is their label (first largest on ties). */
  correct: number;
}

/** Mean validation loss and hit count of flat float32 weights, by the numeric path above. */
/**
 * `generic: true` runs every conv2d layer through the generic loop instead of its unrolled kernel:
 * the same bits, slower; the tests compare the two.
 */
export function deterministicEvaluate(spec: ModelSpec, weights: Float32Array, data: LabelledSet, opts: { generic?: boolean } = {}): Evaluation {
  const size = weightManifest(spec).size;
  if (weights.length !== size) throw new RangeError(`weights hold ${weights.length} values, the model has ${size}`);
  const features = spec.inputShape.reduce((a, b) => a * b, 1);
  if (data.x.length !== data.n * features || data.y.length !== data.n) throw new RangeError(`the set does not hold ${data.n} samples of ${features} features`);
  const p = plan(spec, !opts.generic);
  const input = new Float64Array(features);
  let lossSum = 0;
  let correct = 0;
  const losses = new Float64Array(data.n);
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < features; j++) input[j] = data.x[i * features + j]!;
    const out = p.run(weights, input);
    const label = data.y[i]!;
    const z = p.softmaxLast ? p.logits : out;
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < z.length; j++) if (z[j]! > max) { max = z[j]!; arg = j; }
    let sum = 0;
    for (let j = 0; j < z.length; j++) sum += detExp(z[j]! - max);
    losses[i] = max + detLog(sum) - z[label]!;
    lossSum += losses[i]!;
    if (arg === label) correct++;
  }
  return { loss: lossSum / data.n, losses, correct };
}

/** Where validation losses are computed: inline here, or on threads (eval-threads.ts, Node only). */
export interface Evaluator {
  /** Evaluations worth having in flight at once (each holds one candidate weight vector). */
  readonly parallelism: number;
  /** May take `weights` (a thread is handed its buffer): pass a vector made for this call. */
  evaluate(weights: Float32Array): Promise<Evaluation>;
  close(): void;
}

/** Evaluations on the calling thread, one at a time. */
export function inlineEvaluator(spec: ModelSpec, data: LabelledSet): Evaluator {
  return { parallelism: 1, evaluate: async (w) => deterministicEvaluate(spec, w, data), close() {} };
}
