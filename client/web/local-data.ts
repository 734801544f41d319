import type { LabelledData } from '../tf/train-loop.ts';

/**
 * A data owner's own samples, read in the page: a CSV (features then the label on each row) or
 * image files (labelled by their folder or the digits that start their name). Everything is checked
 * against the task's declared input shape and classes before any training, so a file that does not
 * fit the task is refused with a message saying why, and nothing is uploaded. Nothing here sends
 * anything anywhere: the parsed samples stay in the page.
 */

export interface TaskShape {
  inputShape: number[];
  classes: number;
}

export type LocalDataErrorCode = 'EMPTY' | 'BAD_CSV' | 'WRONG_SHAPE' | 'BAD_LABEL' | 'BAD_IMAGE' | 'NO_LABEL' | 'TOO_MANY';

/** The chosen data cannot be used for this task; the message says what to change. */
export class LocalDataError extends Error {
  constructor(
    readonly code: LocalDataErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LocalDataError';
  }
}

/** At most this many samples are read (the page keeps them in memory and in IndexedDB). */
export const MAX_SAMPLES = 60_000;

export const featureSize = (shape: TaskShape): number => shape.inputShape.reduce((a, b) => a * b, 1);

const describe = (shape: TaskShape) => `${featureSize(shape)} features ([${shape.inputShape.join(', ')}]) and a label in 0..${shape.classes - 1}`;

function checkLabel(v: number, shape: TaskShape, where: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= shape.classes) throw new LocalDataError('BAD_LABEL', `${where}: label ${v} is not a class of this task (0..${shape.classes - 1})`);
  return v;
}

/**
 * Parses a CSV of samples: one row per sample, the features in the model's row-major order, the
 * class label last. Commas, semicolons or tabs separate values; a first row with no number in it is
 * taken as a header and skipped (one with some numbers is data, and a bad cell in it is reported); blank lines are ignored.
 */
export function parseCsv(text: string, shape: TaskShape): LabelledData {
  const f = featureSize(shape);
  const lines = text.split(/\r?\n/);
  const rows: string[][] = [];
  for (const line of lines) {
    const t = line.trim();
    if (t) rows.push(t.split(/[,;\t]/).map((c) => c.trim()));
  }
  if (rows.length > 0 && rows[0]!.every((c) => c === '' || !Number.isFinite(Number(c)))) rows.shift();
  if (rows.length === 0) throw new LocalDataError('EMPTY', `the file has no samples: each row needs ${describe(shape)}`);
  if (rows.length > MAX_SAMPLES) throw new LocalDataError('TOO_MANY', `the file has ${rows.length} samples; the page reads at most ${MAX_SAMPLES}`);
  const x = new Float32Array(rows.length * f);
  const y = new Uint8Array(rows.length);
  if (shape.classes > 256) throw new LocalDataError('BAD_LABEL', `this task has ${shape.classes} classes; the page handles at most 256`);
  rows.forEach((row, i) => {
    const where = `row ${i + 1}`;
    if (row.length !== f + 1) {
      throw new LocalDataError('WRONG_SHAPE', `${where} has ${row.length - 1} features and a label, but this task takes ${describe(shape)}: the file does not fit the task`);
    }
    for (let j = 0; j < f; j++) {
      const v = Number(row[j]);
      if (row[j] === '' || !Number.isFinite(v)) throw new LocalDataError('BAD_CSV', `${where}, column ${j + 1}: '${row[j]}' is not a number`);
      x[i * f + j] = v;
    }
    y[i] = checkLabel(Number(row[f]), shape, where);
  });
  return { x, y, n: rows.length };
}

/**
 * The label of an image file: the folder it sits in ("3/img.png") or the digits that start its
 * name ("3_img.png", "3-img.png"); null when neither gives one.
 */
export function labelOfPath(path: string): number | null {
  const parts = path.split('/').filter(Boolean);
  const folder = parts.length > 1 ? parts[parts.length - 2]! : undefined;
  if (folder !== undefined && /^\d+$/.test(folder)) return Number(folder);
  const m = /^(\d+)[_\-. ]/.exec(parts[parts.length - 1] ?? '');
  return m ? Number(m[1]) : null;
}

/** Image inputs need an [height, width, channels] task with 1 (grey) or 3 (RGB) channels. */
export function imageShapeOf(shape: TaskShape): { h: number; w: number; c: 1 | 3 } {
  const [h, w, c] = shape.inputShape;
  if (shape.inputShape.length !== 3 || (c !== 1 && c !== 3)) {
    throw new LocalDataError('WRONG_SHAPE', `this task takes inputs of shape [${shape.inputShape.join(', ')}], not images: load a CSV of ${describe(shape)}`);
  }
  return { h: h!, w: w!, c };
}

/**
 * Pixels of one RGBA image already scaled to the task's height and width, as the model's features:
 * values in [0, 1], grey as the mean of red, green and blue for one channel.
 */
export function pixelsToFeatures(rgba: Uint8ClampedArray, shape: TaskShape, out: Float32Array, offset: number): void {
  const { h, w, c } = imageShapeOf(shape);
  if (rgba.length !== h * w * 4) throw new LocalDataError('BAD_IMAGE', `expected ${h}x${w} RGBA pixels, got ${rgba.length / 4}`);
  for (let p = 0; p < h * w; p++) {
    const r = rgba[p * 4]!, g = rgba[p * 4 + 1]!, b = rgba[p * 4 + 2]!;
    if (c === 1) out[offset + p] = (r + g + b) / (3 * 255);
    else {
      out[offset + p * 3] = r / 255;
      out[offset + p * 3 + 1] = g / 255;
      out[offset + p * 3 + 2] = b / 255;
    }
  }
}

/** One chosen image: where it came from (for its label) and its bytes. */
export interface ImageInput {
  path: string;
  blob: Blob;
}

/**
 * Decodes image files in the page (createImageBitmap, scaled to the task's input size) into
 * labelled samples. Browser only.
 */
export async function decodeImages(files: readonly ImageInput[], shape: TaskShape, onProgress?: (done: number, total: number) => void): Promise<LabelledData> {
  const { h, w } = imageShapeOf(shape);
  if (files.length === 0) throw new LocalDataError('EMPTY', 'no image files were chosen');
  if (files.length > MAX_SAMPLES) throw new LocalDataError('TOO_MANY', `${files.length} images chosen; the page reads at most ${MAX_SAMPLES}`);
  const f = featureSize(shape);
  const x = new Float32Array(files.length * f);
  const y = new Uint8Array(files.length);
  const canvas = new OffscreenCanvas(w, h);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  if (!g) throw new LocalDataError('BAD_IMAGE', 'this browser cannot draw images off screen');
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const label = labelOfPath(file.path);
    if (label === null) throw new LocalDataError('NO_LABEL', `${file.path}: no label; put each image in a folder named by its class (3/img.png) or start its name with the class (3_img.png)`);
    y[i] = checkLabel(label, shape, file.path);
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(file.blob, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
    } catch {
      throw new LocalDataError('BAD_IMAGE', `${file.path} is not an image this browser can read`);
    }
    g.clearRect(0, 0, w, h);
    g.drawImage(bmp, 0, 0);
    bmp.close();
    pixelsToFeatures(g.getImageData(0, 0, w, h).data, shape, x, i * f);
    onProgress?.(i + 1, files.length);
  }
  return { x, y, n: files.length };
}
