import { describe, expect, it } from 'vitest';
import type { LabelledImages } from '../src/data/types.js';
import { loadMultiFashion, loadMultiMnist } from '../src/node/data/image-sets.js';
import {
  buildMultiFashion,
  buildMultiMnist,
  buildMultiPairs,
  gatherMultiBatch,
  multiImagesTensor,
  multiTaskDataFromSplits,
  type MultiImageSet,
  overlayPair,
} from '../src/data/multi.js';
import { loadMnistDigits } from '../src/node/data/mnist.js';
import { Rng } from '../src/tensor/random.js';

const SIDE = 28;
const CANVAS = 36;

/** A small source set whose every image is distinguishable: pixel value encodes (image, position). */
function toySource(count: number, name = 'toy'): LabelledImages {
  const images = new Float32Array(count * SIDE * SIDE);
  const rng = new Rng(99);
  for (let i = 0; i < images.length; i++) images[i] = Math.fround(rng.uniform() * 0.6);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  return { name, images, shape: [count, SIDE, SIDE], labels, numClasses: 10 };
}

function bytesOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectIdentical(a: MultiImageSet, b: MultiImageSet): void {
  expect(bytesOf(a.images).equals(bytesOf(b.images))).toBe(true);
  expect(bytesOf(a.labelsTopLeft).equals(bytesOf(b.labelsTopLeft))).toBe(true);
  expect(bytesOf(a.labelsBottomRight).equals(bytesOf(b.labelsBottomRight))).toBe(true);
  expect(bytesOf(a.sourceIndices).equals(bytesOf(b.sourceIndices))).toBe(true);
}

function sourcesUsed(set: MultiImageSet): Set<number> {
  return new Set(set.sourceIndices);
}

function intersects(a: Set<number>, b: Set<number>): boolean {
  for (const x of a) if (b.has(x)) return true;
  return false;
}

describe('overlayPair', () => {
  it('places the images at (0,0) and (8,8), sums them and clips to [0, 1]', () => {
    const top = new Float32Array(SIDE * SIDE);
    const bottom = new Float32Array(SIDE * SIDE);
    top[0] = 0.25; // canvas (0,0), alone
    top[27 * SIDE + 27] = 0.5; // canvas (27,27), over bottom (19,19)
    bottom[19 * SIDE + 19] = 0.25; // -> 0.75
    top[8 * SIDE + 8] = 0.75; // canvas (8,8), over bottom (0,0)
    bottom[0] = 0.5; // -> 1.25, clipped to 1
    bottom[27 * SIDE + 27] = 1; // canvas (35,35), alone
    bottom[27 * SIDE] = 0.125; // canvas (35,8)
    top[5 * SIDE + 20] = 0.375; // canvas (5,20): only top covers row 5
    const out = new Float32Array(2 * CANVAS * CANVAS).fill(-7);
    overlayPair(top, bottom, out, CANVAS * CANVAS);
    const at = (r: number, c: number): number => out[CANVAS * CANVAS + r * CANVAS + c]!;
    expect(at(0, 0)).toBe(0.25);
    expect(at(27, 27)).toBe(0.75);
    expect(at(8, 8)).toBe(1);
    expect(at(35, 35)).toBe(1);
    expect(at(35, 8)).toBe(0.125);
    expect(at(5, 20)).toBe(0.375);
    let nonZero = 0;
    for (let i = 0; i < CANVAS * CANVAS; i++) if (out[CANVAS * CANVAS + i] !== 0) nonZero++;
    expect(nonZero).toBe(6);
    // The first canvas slot was not touched.
    expect(out[0]).toBe(-7);
    expect(out[CANVAS * CANVAS - 1]).toBe(-7);
  });

  it('matches a direct per-pixel reference on random images', () => {
    const rng = new Rng(5);
    const top = Float32Array.from({ length: SIDE * SIDE }, () => rng.uniform());
    const bottom = Float32Array.from({ length: SIDE * SIDE }, () => rng.uniform());
    const out = new Float32Array(CANVAS * CANVAS);
    overlayPair(top, bottom, out);
    for (let r = 0; r < CANVAS; r++) {
      for (let c = 0; c < CANVAS; c++) {
        const a = r < SIDE && c < SIDE ? top[r * SIDE + c]! : 0;
        const b = r >= 8 && c >= 8 ? bottom[(r - 8) * SIDE + (c - 8)]! : 0;
        expect(out[r * CANVAS + c]).toBe(Math.fround(Math.min(1, a + b)));
      }
    }
  });

  it('rejects images that are not 28x28', () => {
    expect(() => overlayPair(new Float32Array(784), new Float32Array(900), new Float32Array(1296))).toThrow(
      'overlayPair: expected two 28x28 images (784 pixels), got 784 and 900',
    );
  });
});

describe('buildMultiPairs', () => {
  it('overlays the recorded source images with their labels, never pairing an image with itself', () => {
    const source = toySource(50);
    const pool = Int32Array.from({ length: 20 }, (_, i) => 30 + i);
    const set = buildMultiPairs(source, pool, 65, new Rng(1), 'toy-pairs');
    expect(set.shape).toEqual([65, 1, 36, 36]);
    expect(set.images.length).toBe(65 * 1296);
    const expected = new Float32Array(1296);
    for (let i = 0; i < 65; i++) {
      const a = set.sourceIndices[2 * i]!;
      const b = set.sourceIndices[2 * i + 1]!;
      expect(a).not.toBe(b);
      expect(a).toBeGreaterThanOrEqual(30);
      expect(b).toBeGreaterThanOrEqual(30);
      expect(set.labelsTopLeft[i]).toBe(source.labels[a]);
      expect(set.labelsBottomRight[i]).toBe(source.labels[b]);
      overlayPair(source.images.subarray(a * 784, (a + 1) * 784), source.images.subarray(b * 784, (b + 1) * 784), expected);
      expect(bytesOf(set.images.subarray(i * 1296, (i + 1) * 1296)).equals(bytesOf(expected))).toBe(true);
    }
    // Top-left images walk through whole passes of the pool: 65 = 3 passes of 20 + 5.
    const topUses = new Map<number, number>();
    for (let i = 0; i < 65; i++) topUses.set(set.sourceIndices[2 * i]!, (topUses.get(set.sourceIndices[2 * i]!) ?? 0) + 1);
    expect([...topUses.values()].every((n) => n === 3 || n === 4)).toBe(true);
    expect(topUses.size).toBe(20);
  });

  it('rejects wrong-size sources with their shape, and pools too small to pair', () => {
    const wrong: LabelledImages = { name: 'big', images: new Float32Array(2 * 32 * 32), shape: [2, 32, 32], labels: new Int32Array(2), numClasses: 10 };
    expect(() => buildMultiPairs(wrong, Int32Array.of(0, 1), 1, new Rng(0))).toThrow('multi: big: images have shape [2, 32, 32]');
    expect(() => buildMultiPairs(toySource(5), Int32Array.of(3), 1, new Rng(0), 'p')).toThrow('multi: p: the pool has 1 source images');
    expect(() => buildMultiPairs(toySource(5), Int32Array.of(3, 5), 1, new Rng(0), 'p')).toThrow('pool index 5 outside the 5 source images');
  });
});

describe('Multi-MNIST from the real digits', () => {
  const digits = loadMnistDigits();
  const counts = { trainPairs: 600, validationPairs: 150, testPairs: 150 };

  it('reproduces bit for bit from a seed and changes with the seed', () => {
    const a = buildMultiMnist({ seed: 7, digits, ...counts });
    const b = buildMultiMnist({ seed: 7, digits, ...counts });
    expectIdentical(a.train, b.train);
    expectIdentical(a.validation, b.validation);
    expectIdentical(a.test, b.test);
    const c = buildMultiMnist({ seed: 8, digits, ...counts });
    expect(bytesOf(a.train.sourceIndices).equals(bytesOf(c.train.sourceIndices))).toBe(false);
    // The test split depends on the seed only, not on how many training pairs were asked for.
    const d = buildMultiMnist({ seed: 7, digits, ...counts, trainPairs: 50 });
    expectIdentical(a.test, d.test);
  });

  it('draws train, validation and test pairs from disjoint source digits', () => {
    const splits = buildMultiMnist({ seed: 3, digits, trainPairs: 20000, validationPairs: 4000, testPairs: 4000 });
    const train = sourcesUsed(splits.train);
    const validation = sourcesUsed(splits.validation);
    const test = sourcesUsed(splits.test);
    expect(intersects(train, validation)).toBe(false);
    expect(intersects(train, test)).toBe(false);
    expect(intersects(validation, test)).toBe(false);
    // With that many pairs every image of each 70/15/15 pool is used.
    expect(train.size).toBe(7000);
    expect(validation.size).toBe(1500);
    expect(test.size).toBe(1500);
    expect(splits.train.shape).toEqual([20000, 1, 36, 36]);
    for (const split of [splits.train, splits.validation, splits.test]) {
      let min = Infinity;
      let max = -Infinity;
      for (const v of split.images) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect(min).toBe(0);
      expect(max).toBe(1);
    }
  });

  it('loads the default digits and produces conv2d-ready tensors and the multi-task form', () => {
    const splits = loadMultiMnist({ seed: 1, trainPairs: 40, validationPairs: 10, testPairs: 12 });
    const x = multiImagesTensor(splits.train);
    expect(x.shape).toEqual([40, 1, 36, 36]);
    expect(x.dtype).toBe('float32');
    const batch = gatherMultiBatch(splits.test, [11, 0, 5]);
    expect(batch.images.shape).toEqual([3, 1, 36, 36]);
    expect(Array.from(batch.labelsTopLeft)).toEqual([11, 0, 5].map((i) => splits.test.labelsTopLeft[i]));
    expect(Array.from(batch.labelsBottomRight)).toEqual([11, 0, 5].map((i) => splits.test.labelsBottomRight[i]));
    expect(Array.from(batch.images.toArray().subarray(1296, 2592))).toEqual(Array.from(splits.test.images.subarray(0, 1296)));
    expect(() => gatherMultiBatch(splits.test, [12])).toThrow('gatherMultiBatch: multi-mnist/test: index 12 at position 0 outside 0..11');
    const data = multiTaskDataFromSplits(splits, 'multi-mnist', 'two digits on a 36x36 canvas');
    expect(data.input).toEqual({ kind: 'image', shape: [1, 36, 36] });
    expect(data.tasks.map((t) => t.name)).toEqual(['top-left', 'bottom-right']);
    expect(data.val.size).toBe(10);
    expect(data.test.y.shape).toEqual([12, 2]);
    expect(Array.from(data.test.y.toArray().subarray(0, 2))).toEqual([splits.test.labelsTopLeft[0], splits.test.labelsBottomRight[0]]);
  });

  it('rejects bad pair counts, seeds and fractions by name', () => {
    expect(() => buildMultiMnist({ seed: 1, digits, trainPairs: -1 })).toThrow('multi: trainPairs must be a non-negative integer, got -1');
    expect(() => buildMultiMnist({ seed: 1.5, digits })).toThrow('multi: seed must be an integer, got 1.5');
    expect(() => buildMultiMnist({ seed: 1, digits, sourceFractions: [0.8, 0.2, 0.2] })).toThrow('source fractions must be positive and sum to at most 1');
  });
});

describe('Multi-Fashion', () => {
  it('takes train and validation from disjoint training images and test from the test images', () => {
    const trainSource = toySource(120, 'fashion-train');
    const testSource = toySource(30, 'fashion-test');
    const options = { seed: 11, trainSource, testSource, trainPairs: 400, validationPairs: 100, testPairs: 90 };
    const splits = buildMultiFashion(options);
    expect(splits.train.sourceName).toBe('fashion-train');
    expect(splits.validation.sourceName).toBe('fashion-train');
    expect(splits.test.sourceName).toBe('fashion-test');
    const train = sourcesUsed(splits.train);
    const validation = sourcesUsed(splits.validation);
    expect(intersects(train, validation)).toBe(false);
    expect(validation.size).toBe(20); // 1/6 of 120
    expect(train.size).toBe(100);
    expect(sourcesUsed(splits.test).size).toBe(30);
    const again = buildMultiFashion(options);
    expectIdentical(splits.train, again.train);
    expectIdentical(splits.test, again.test);
  });

  it('builds from the real Fashion-MNIST files (Debian package dataset-fashion-mnist)', () => {
    const splits = loadMultiFashion({ seed: 2, trainPairs: 200, validationPairs: 50, testPairs: 50 });
    expect(splits.train.shape).toEqual([200, 1, 36, 36]);
    expect(splits.train.sourceName).toBe('fashion-mnist/train');
    expect(splits.test.sourceName).toBe('fashion-mnist/test');
    expect(intersects(sourcesUsed(splits.train), sourcesUsed(splits.validation))).toBe(false);
    for (const label of [...splits.train.labelsTopLeft, ...splits.test.labelsBottomRight]) {
      expect(label >= 0 && label <= 9).toBe(true);
    }
  });
});
