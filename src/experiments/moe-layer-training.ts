import { buildFashionMnistMixture } from '../data/dataset-mixture.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../node/data/fashion-mnist.js';
import type { LabelledImages } from '../data/types.js';
import { loadMnistDigits } from '../node/data/mnist.js';
import type { ConvMoENet } from '../moe/conv-moe.js';
import { evaluate } from '../moe/train/evaluate.js';
import type { FitResult } from '../moe/train/fit.js';
import { fitAsync, type FitAsyncOptions } from '../moe/train/fit-async.js';
import type { UtilizationPoint } from '../report/utilization-plot.js';
import { fromTypedArray } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

/** Single-image classification data for the CNN MoE-layer experiments (balance, DAMEX). */
export interface ImageClassificationSplit {
  size: number;
  /** [size, 1, 28, 28]. */
  x: Tensor;
  labels: Int32Array;
  /** Source dataset of each example (all 0 for a single dataset). */
  datasetIds: Int32Array;
}

export interface ImageClassificationData {
  name: string;
  classNames: string[];
  datasets: string[];
  train: ImageClassificationSplit;
  test: ImageClassificationSplit;
}

export const IMAGE_DATASETS = ['fashion-mnist', 'mnist', 'fashion+mnist'] as const;
export type ImageDatasetName = (typeof IMAGE_DATASETS)[number];

export interface ImageDataOptions {
  dataset: ImageDatasetName;
  /** Training examples (per dataset for the mixture). */
  trainSize: number;
  testSize: number;
  seed: number;
  dataDir?: string;
  /** Pre-loaded sources (tests): used instead of reading files. */
  sources?: { fashionTrain?: LabelledImages; fashionTest?: LabelledImages; digits?: LabelledImages };
}

const DIGIT_NAMES = Array.from({ length: 10 }, (_, d) => `digit ${d}`);

/** Loads and subsamples (seeded) one of the image datasets. */
export function loadImageClassification(opts: ImageDataOptions): ImageClassificationData {
  const load = opts.dataDir === undefined ? {} : { dataDir: opts.dataDir };
  const rng = new Rng(opts.seed);
  if (opts.dataset === 'fashion+mnist') {
    const mixture = buildFashionMnistMixture({
      seed: opts.seed,
      trainPerDataset: opts.trainSize,
      testPerDataset: opts.testSize,
      fashionTrain: opts.sources?.fashionTrain ?? loadFashionMnist({ ...load, split: 'train' }),
      fashionTest: opts.sources?.fashionTest ?? loadFashionMnist({ ...load, split: 'test' }),
      digits: opts.sources?.digits ?? loadMnistDigits(),
    });
    return {
      name: mixture.name,
      classNames: [...FASHION_MNIST_CLASSES, ...DIGIT_NAMES],
      datasets: mixture.datasets,
      train: mixture.train,
      test: mixture.test,
    };
  }
  if (opts.dataset === 'fashion-mnist') {
    const train = opts.sources?.fashionTrain ?? loadFashionMnist({ ...load, split: 'train' });
    const test = opts.sources?.fashionTest ?? loadFashionMnist({ ...load, split: 'test' });
    return {
      name: 'fashion-mnist',
      classNames: [...FASHION_MNIST_CLASSES],
      datasets: ['fashion-mnist'],
      train: subsample(train, pickRows(train.shape[0], opts.trainSize, rng, 'train size')),
      test: subsample(test, pickRows(test.shape[0], opts.testSize, rng, 'test size')),
    };
  }
  if (opts.dataset === 'mnist') {
    const digits = opts.sources?.digits ?? loadMnistDigits();
    const order = rng.permutation(digits.shape[0]);
    if (opts.trainSize + opts.testSize > digits.shape[0]) {
      throw new Error(`mnist: train size ${opts.trainSize} + test size ${opts.testSize} exceed the ${digits.shape[0]} digits available`);
    }
    return {
      name: 'mnist',
      classNames: DIGIT_NAMES,
      datasets: ['mnist'],
      train: subsample(digits, order.slice(0, opts.trainSize)),
      test: subsample(digits, order.slice(opts.trainSize, opts.trainSize + opts.testSize)),
    };
  }
  throw new Error(`unknown image dataset '${String(opts.dataset)}' (expected one of ${IMAGE_DATASETS.join(', ')})`);
}

function pickRows(available: number, count: number, rng: Rng, what: string): Int32Array {
  if (!Number.isInteger(count) || count < 1 || count > available) throw new Error(`${what} must be an integer in [1, ${available}], got ${count}`);
  return rng.permutation(available).slice(0, count);
}

function subsample(source: LabelledImages, rows: Int32Array): ImageClassificationSplit {
  const [, h, w] = source.shape;
  if (h !== 28 || w !== 28) throw new Error(`${source.name}: images have shape [${source.shape.join(', ')}], expected [N, 28, 28]`);
  const pixels = h * w;
  const images = new Float32Array(rows.length * pixels);
  rows.forEach((r, i) => images.set(source.images.subarray(r * pixels, (r + 1) * pixels), i * pixels));
  return {
    size: rows.length,
    x: fromTypedArray(images, [rows.length, 1, h, w]),
    labels: Int32Array.from(rows, (r) => source.labels[r]!),
    datasetIds: new Int32Array(rows.length),
  };
}

/** Targets [N, 1] (class label) for a one-output net, or [N, 2] (label, extra) for a router-output net. */
export function classificationTargets(labels: Int32Array, second?: ArrayLike<number>): Tensor {
  const cols = second ? 2 : 1;
  const y = new Float32Array(labels.length * cols);
  for (let i = 0; i < labels.length; i++) {
    y[i * cols] = labels[i]!;
    if (second) y[i * cols + 1] = second[i]!;
  }
  return fromTypedArray(y, [labels.length, cols]);
}

export interface UsageTrace {
  result: FitResult;
  /** Share of examples per expert in each window (`checkpointsPerEpoch` windows per epoch). */
  timeline: UtilizationPoint[];
  /** Rerouted and dropped slots over the whole run (hard constraint). */
  rerouted: number;
  dropped: number;
}

/**
 * `fitAsync` plus a record of the router's expert use during training, for the utilisation plot. With
 * `signal`, an abort stops it at the next batch boundary: `result.interrupted` then says where.
 */
export async function fitWithUsage(model: ConvMoENet, data: { x: Tensor; y: Tensor }, opts: Omit<FitAsyncOptions, 'onAbort'>, checkpointsPerEpoch = 4, run?: string): Promise<UsageTrace> {
  const gate = model.gate;
  const n = gate.numExperts;
  const timeline: UtilizationPoint[] = [];
  let rerouted = 0;
  let dropped = 0;
  gate.takeUsage();
  const record = (epochPosition: number): void => {
    const usage = gate.takeUsage();
    rerouted += usage.rerouted;
    dropped += usage.dropped;
    const total = usage.counts.reduce((a, b) => a + b, 0);
    if (total === 0) return;
    for (let e = 0; e < n; e++) timeline.push({ epoch: epochPosition, expert: e, share: usage.counts[e]! / total, ...(run !== undefined ? { run } : {}) });
  };
  const result = await fitAsync(model, data, {
    ...opts,
    onAbort: 'return',
    onBatch: (b) => {
      opts.onBatch?.(b);
      const every = Math.max(1, Math.floor(b.batches / checkpointsPerEpoch));
      if ((b.batch + 1) % every === 0 || b.batch + 1 === b.batches) record(b.epoch + (b.batch + 1) / b.batches);
    },
  });
  return { result, timeline, rerouted, dropped };
}

/** Test accuracy of the class output (output 0) on a split. */
export function classAccuracy(model: ConvMoENet, split: ImageClassificationSplit, second?: ArrayLike<number>): number {
  const losses = model.numTasks === 2 ? (['ce', 'ce'] as const) : (['ce'] as const);
  return evaluate(model, { x: split.x, y: classificationTargets(split.labels, model.numTasks === 2 ? (second ?? new Int32Array(split.size)) : undefined) }, { losses: [...losses] }).taskAccuracies[0]!;
}

/** CV² of a share vector (0 = perfectly even). */
export function sharesCv2(shares: readonly number[]): number {
  const m = shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length);
  const v = shares.reduce((a, s) => a + (s - m) ** 2, 0) / Math.max(1, shares.length);
  return v / (m * m + 1e-10);
}
