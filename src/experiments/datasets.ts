import type { DType } from '../tensor/dtype.js';
import { generateSynthetic, SYNTHETIC_DEFAULTS } from '../data/synthetic.js';
import type { MultiTaskData } from '../data/types.js';
import { multiFashionDataset, multiMnistDataset } from './image-datasets.js';

/** Options the command line passes to every dataset; a dataset rejects the ones it cannot honour. */
export interface DatasetOptions {
  seed: number;
  dtype?: DType;
  /** Number of tasks, for datasets where it is a free parameter. */
  numTasks?: number;
  numTrain?: number;
  numVal?: number;
  numTest?: number;
  /** Directory holding the dataset's files, for datasets read from disk (`--data-dir`; multi-fashion: Fashion-MNIST IDX files). */
  dataDir?: string;
  /** Dataset-specific settings (e.g. the synthetic generator's `numGroups`, `correlation`, `inputDim`). */
  extra?: Readonly<Record<string, number>>;
}

export interface DatasetEntry {
  name: string;
  description: string;
  /** Fixed task count, or null when `numTasks` is configurable. */
  fixedNumTasks: number | null;
  load(options: DatasetOptions): MultiTaskData | Promise<MultiTaskData>;
  /** Training settings that replace the general defaults for this dataset when the user gives none. */
  trainingDefaults?: Readonly<{ lr?: number; towerHidden?: readonly number[] }>;
}

/** The dataset's own default for a training setting, if it has one (unregistered names, e.g. 'csv', have none). */
export function datasetTrainingDefault<K extends 'lr' | 'towerHidden'>(name: string, key: K): NonNullable<DatasetEntry['trainingDefaults']>[K] | undefined {
  return datasets.get(name)?.trainingDefaults?.[key];
}


/** Adds a dataset to the registry the command line chooses from (`--dataset NAME`). */
export function registerDataset(entry: DatasetEntry): void {
  if (datasets.has(entry.name)) throw new Error(`registerDataset: a dataset named '${entry.name}' is already registered`);
  datasets.set(entry.name, entry);
}

export function datasetNames(): string[] {
  return [...datasets.keys()];
}

export function getDataset(name: string): DatasetEntry {
  const entry = datasets.get(name);
  if (!entry) throw new Error(`unknown dataset '${name}' (available: ${datasetNames().join(', ')})`);
  return entry;
}

/** Loads a registered dataset, checking a requested task count against a fixed one. */
export async function loadDataset(name: string, options: DatasetOptions): Promise<MultiTaskData> {
  const entry = getDataset(name);
  if (entry.fixedNumTasks !== null && options.numTasks !== undefined && options.numTasks !== entry.fixedNumTasks) {
    throw new Error(`dataset '${name}' has ${entry.fixedNumTasks} tasks; --tasks ${options.numTasks} does not fit it`);
  }
  return entry.load(options);
}

const SYNTHETIC_EXTRA_KEYS = ['numGroups', 'inputDim', 'correlation', 'scale', 'noiseStd'] as const;

export const syntheticDataset: DatasetEntry = {
  name: 'synthetic',
  description: 'MMoE-style multi-task regression with grouped, related tasks (built in, no download)',
  fixedNumTasks: null,
  load(options) {
    const extra = options.extra ?? {};
    for (const key of Object.keys(extra)) {
      if (!(SYNTHETIC_EXTRA_KEYS as readonly string[]).includes(key)) {
        throw new Error(`dataset 'synthetic': unknown setting '${key}' (known: ${SYNTHETIC_EXTRA_KEYS.join(', ')})`);
      }
    }
    const numTasks = options.numTasks ?? SYNTHETIC_DEFAULTS.numTasks;
    // The default number of groups, but never more groups than tasks.
    const numGroups = extra.numGroups ?? Math.min(SYNTHETIC_DEFAULTS.numGroups, numTasks);
    return generateSynthetic({
      ...extra,
      numTasks,
      numGroups,
      seed: options.seed,
      ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
      ...(options.numTrain !== undefined ? { numTrain: options.numTrain } : {}),
      ...(options.numVal !== undefined ? { numVal: options.numVal } : {}),
      ...(options.numTest !== undefined ? { numTest: options.numTest } : {}),
    });
  },
};

/** The datasets `--dataset` chooses from: the built-in ones, then any added with registerDataset. */
const datasets = new Map<string, DatasetEntry>([syntheticDataset, multiMnistDataset, multiFashionDataset].map((d) => [d.name, d]));
