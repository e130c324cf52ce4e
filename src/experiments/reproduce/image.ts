import { buildMultiFashion, buildMultiMnist, multiTaskDataFromSplits, type MultiSplits } from '../../data/multi.js';
import type { LabelledImages, MultiTaskData, MultiTaskSplit } from '../../data/types.js';
import { reshape } from '../../autograd/ops/shape.js';
import { buildMMoE } from '../../moe/build-mmoe.js';
import { parseEntropySchedule } from '../../moe/entropy-schedule.js';
import type { GateSpec } from '../../moe/gate-factory.js';
import { takeRows, type MultiTaskBatchSource } from '../../moe/train/dataset.js';
import type { TaskLossKind } from '../../moe/train/task-loss.js';
import { loadFashionMnist } from '../../node/data/fashion-mnist.js';
import { loadMnistDigits } from '../../node/data/mnist.js';
import { Adam } from '../../optim/adam.js';
import { Rng } from '../../tensor/random.js';
import { imageExpertOverrides } from '../image-experts.js';
import { UserError } from '../user-error.js';
import type { Cell } from '../../report/reproduce-records.js';
import { runResumable } from './resumable-run.js';
import type { Protocol, RunContext, RunOutcome, RunSpec } from './runner.js';
import { measureInference, scoreRun, staticBinaryFraction } from './score.js';

/**
 * `dselect-k reproduce multi-fashion` / `multi-mnist`: the replication protocol of PaddleRec and COMET
 * for the paper's real-data experiment. Every source image of a split's pool is the top-left item of
 * two pairs, each with a different random bottom-right item of the same pool, summed on a 36×36 canvas
 * at (0, 0) and (8, 8) without clipping (COMET); Fashion-MNIST's 50k/10k training images (train and
 * validation pools, disjoint) and its 10k test images give 100k / 20k / 20k pairs. Every expert is the
 * paper's CNN, every tower 50 → 50 → 10 (PaddleRec); Adam with one learning rate for every gate (no
 * gate is tuned: the real-data budget does not allow tuning any of them), early stopping on the
 * validation loss. Gates: static DSelect-k and static Top-k (k = 2 of 8, COMET's static setting) and
 * the MMoE softmax gate (per example) as the dense reference.
 */

export type ImageDatasetName = 'multi-fashion' | 'multi-mnist';

export interface ImageProtocolOptions {
  dataset: ImageDatasetName;
  partnersPerImage: number;
  /** Use only this many source images (seeded subset) — the quick mode; null: all of them. */
  sourceLimit: { train: number; test: number } | null;
  experts: number;
  k: number;
  towerHidden: readonly number[];
  batchSize: number;
  lr: number;
  maxEpochs: number;
  patience: number;
  gamma: number;
  entropyWeight: number;
  /** An entropy schedule string (see parseEntropySchedule); per training step, as the official code. */
  entropySchedule: string;
  seeds: number;
  dataSeed: number;
  /** Test examples timed dense vs sparse after each run. */
  inferenceExamples: number;
}

export const IMAGE_FULL: Omit<ImageProtocolOptions, 'dataset'> = {
  partnersPerImage: 2,
  sourceLimit: null,
  experts: 8,
  k: 2,
  towerHidden: [50],
  batchSize: 256,
  lr: 1e-3,
  maxEpochs: 100,
  patience: 10,
  gamma: 1,
  // Near z = 0 the entropy's gradient is ∝ z (uniform selectors are its maximum), so a small λ never
  // overcomes the task gradient's noise (a pilot with λ = 0.01: |z| ≤ 0.07 after 200 steps). λ = 1,
  // ramped in over the first 800 steps (about two epochs), lets the task choose first, then binarises.
  entropyWeight: 1,
  entropySchedule: 'warmup-steps:800',
  seeds: 3,
  dataSeed: 0,
  inferenceExamples: 2000,
};

export const IMAGE_QUICK: Omit<ImageProtocolOptions, 'dataset'> = {
  ...IMAGE_FULL,
  sourceLimit: { train: 72, test: 24 },
  experts: 4,
  batchSize: 32,
  maxEpochs: 2,
  patience: 2,
  entropySchedule: 'warmup-steps:4',
  seeds: 1,
  inferenceExamples: 16,
};

export const IMAGE_CELLS = (dataset: string, k: number): Cell[] => [
  { key: `${dataset}/static/dselect-k`, dataset, tasks: 2, k, regime: 'static', gate: 'dselect-k' },
  { key: `${dataset}/static/top-k`, dataset, tasks: 2, k, regime: 'static', gate: 'top-k' },
  { key: `${dataset}/per-example/softmax`, dataset, tasks: 2, k: null, regime: 'per-example', gate: 'softmax' },
];

function subset(images: LabelledImages, count: number, seed: number): LabelledImages {
  const n = images.shape[0];
  if (count >= n) return images;
  const pick = new Rng(seed).permutation(n).slice(0, count).sort();
  const pixels = images.shape[1] * images.shape[2];
  const out = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  pick.forEach((src, i) => {
    out.set(images.images.subarray(src * pixels, (src + 1) * pixels), i * pixels);
    labels[i] = images.labels[src]!;
  });
  return { ...images, name: `${images.name} (${count} of ${n})`, images: out, shape: [count, images.shape[1], images.shape[2]], labels };
}

function loadSplits(o: ImageProtocolOptions, dataDir: string | undefined): MultiSplits {
  const limit = o.sourceLimit;
  try {
    if (o.dataset === 'multi-fashion') {
      const where = dataDir === undefined ? {} : { dataDir };
      let train = loadFashionMnist({ ...where, split: 'train' });
      let test = loadFashionMnist({ ...where, split: 'test' });
      if (limit) {
        train = subset(train, limit.train, o.dataSeed + 1);
        test = subset(test, limit.test, o.dataSeed + 2);
      }
      return buildMultiFashion({ seed: o.dataSeed, trainSource: train, testSource: test, partnersPerImage: o.partnersPerImage });
    }
    let digits = loadMnistDigits();
    if (limit) digits = subset(digits, limit.train + 2 * limit.test, o.dataSeed + 1);
    return buildMultiMnist({ seed: o.dataSeed, digits, partnersPerImage: o.partnersPerImage });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

function flat(split: MultiTaskSplit): MultiTaskBatchSource {
  return { x: reshape(split.x, [split.size, split.x.size / split.size]), y: split.y };
}

export function imageProtocol(o: ImageProtocolOptions, dataDir?: string): Protocol {
  parseEntropySchedule(o.entropySchedule);
  let data: MultiTaskData | null = null;
  const dataOf = (): MultiTaskData => (data ??= multiTaskDataFromSplits(loadSplits(o, dataDir), o.dataset, `${o.dataset} (COMET pairing)`));
  const { seeds: _seeds, ...fixed } = o;
  return {
    name: o.dataset,
    version: 1,
    settings: { ...fixed, optimizer: 'adam', clip: false, regularizerReduction: 'sum' },
    cells: IMAGE_CELLS(o.dataset, o.k),
    trials: 0,
    seeds: o.seeds,
    order: 'seed',
    logEpochs: true,
    searchSpace: () => [],
    fixedSetting: (cell) => (cell.gate === 'dselect-k' ? { lr: o.lr, entropyWeight: o.entropyWeight, gamma: o.gamma } : { lr: o.lr }),
    run(spec: RunSpec, ctx: RunContext): RunOutcome {
      const d = dataOf();
      const gate: GateSpec =
        spec.cell.gate === 'dselect-k'
          ? {
              type: 'dselect-k',
              k: spec.cell.k!,
              gamma: spec.setting.gamma ?? o.gamma,
              entropyWeight: spec.setting.entropyWeight ?? o.entropyWeight,
              entropySchedule: parseEntropySchedule(o.entropySchedule),
              regularizerReduction: 'sum',
            }
          : spec.cell.gate === 'top-k'
            ? { type: 'top-k', k: spec.cell.k!, perExample: spec.cell.regime === 'per-example' }
            : { type: 'softmax', perExample: spec.cell.regime === 'per-example' };
      const model = buildMMoE({
        inputDim: d.input.shape.reduce((a, b) => a * b, 1),
        numTasks: 2,
        numExperts: o.experts,
        gate,
        towerHidden: o.towerHidden,
        taskOutputDims: d.tasks.map((t) => (t.kind === 'classification' ? t.numClasses : 1)),
        seed: spec.seed,
        ...imageExpertOverrides(d),
      });
      const losses: TaskLossKind[] = ['ce', 'ce'];
      const train = flat(d.train);
      const val = flat(d.val);
      const test = flat(d.test);
      const run = runResumable({
        runId: spec.id,
        dir: ctx.dir,
        model,
        optimizer: new Adam(model, { lr: spec.setting.lr }),
        train,
        validation: val,
        losses,
        batchSize: o.batchSize,
        seed: spec.seed,
        maxEpochs: o.maxEpochs,
        patience: o.patience,
        onEpoch: (log) => ctx.onEpoch(log, spec.cell.gate === 'dselect-k' ? staticBinaryFraction(model, spec.cell.regime === 'static') : null),
        ...(ctx.onBatch ? { onBatch: ctx.onBatch } : {}),
      });
      const timed = Math.min(o.inferenceExamples, d.test.size);
      const inferenceX = takeRows(test.x, Int32Array.from({ length: timed }, (_, i) => i));
      return {
        ...scoreRun(model, { val, test }, losses, undefined, ctx.keepGateWeights),
        epochs: run.history.length,
        bestEpoch: run.bestEpoch,
        stoppedEarly: run.stoppedEarly,
        inference: measureInference(model, inferenceX),
        seconds: run.seconds,
        resumedAt: run.resumedAt,
      };
    },
  };
}
