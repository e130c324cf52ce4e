import { basename } from 'node:path';
import type { MultiTaskData, MultiTaskSplit, TargetScaling, TaskSpec } from '../data/types.js';
import { readNumericCsv, type NumericTable } from '../node/data/csv.js';
import { fromTypedArray } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import { keep } from '../tensor/scope.js';

/** How a CSV column is learnt: 'mse' regression, 'bce' a 0/1 label (one logit), 'ce' a class index 0..C−1. */
export const CSV_TASK_TYPES = ['mse', 'bce', 'ce'] as const;
export type CsvTaskType = (typeof CSV_TASK_TYPES)[number];

/** Your own data: a CSV file, the target columns and their task types; the other columns are features. */
export interface CsvDataConfig {
  /** Absolute path of the CSV file (header row, numbers only). */
  path: string;
  targets: string[];
  taskTypes: CsvTaskType[];
  /** Feature columns (null: every column that is not a target). */
  features: string[] | null;
}

export interface CsvSplitSizes {
  /** Rows kept for validation and test (default 10% each, at least 1); training gets the rest (or trainSize). */
  valSize: number | null;
  testSize: number | null;
  trainSize: number | null;
  seed: number;
}

/**
 * A multi-task dataset from a CSV file: rows shuffled with the data seed and split into
 * train/validation/test; features standardised with the training rows' mean and std (kept in
 * `inputScaling`, so predictions apply the same map), regression targets likewise (`targetScaling`).
 */
export function loadCsvData(cfg: CsvDataConfig, sizes: CsvSplitSizes): MultiTaskData {
  const table = readNumericCsv(cfg.path);
  const file = basename(cfg.path);
  if (cfg.targets.length === 0) throw new Error('--targets names no column');
  if (cfg.taskTypes.length !== cfg.targets.length) {
    throw new Error(`--task-types gives ${cfg.taskTypes.length} type(s) for ${cfg.targets.length} target column(s) (${cfg.targets.join(', ')})`);
  }
  const index = (name: string, what: string): number => {
    const i = table.columns.indexOf(name);
    if (i < 0) throw new Error(`${file} has no ${what} column '${name}' (columns: ${table.columns.slice(0, 12).join(', ')}${table.columns.length > 12 ? ', …' : ''})`);
    return i;
  };
  const targetColumns = cfg.targets.map((t) => index(t, 'target'));
  const featureNames = cfg.features ?? table.columns.filter((c) => !cfg.targets.includes(c));
  const featureColumns = featureNames.map((f) => {
    if (cfg.targets.includes(f)) throw new Error(`column '${f}' is both a feature and a target`);
    return index(f, 'feature');
  });
  if (featureColumns.length === 0) throw new Error(`${file} has no feature column left once the targets (${cfg.targets.join(', ')}) are taken out`);
  const n = table.rows;
  const valSize = sizes.valSize ?? Math.max(1, Math.round(n / 10));
  const testSize = sizes.testSize ?? Math.max(1, Math.round(n / 10));
  const rest = n - valSize - testSize;
  const trainSize = sizes.trainSize ?? rest;
  if (trainSize < 1 || trainSize > rest) {
    throw new Error(`${file} has ${n} rows: ${valSize} validation + ${testSize} test leave ${rest} for training${sizes.trainSize !== null ? `, not --train-size ${sizes.trainSize}` : ''}`);
  }
  const order = new Rng(sizes.seed).permutation(n);
  const trainRows = order.subarray(0, trainSize);
  const valRows = order.subarray(rest, rest + valSize);
  const testRows = order.subarray(rest + valSize, n);

  const tasks: TaskSpec[] = cfg.targets.map((name, t) => taskSpec(table, name, targetColumns[t]!, cfg.taskTypes[t]!, file));
  const inputScaling = featureColumns.map((c) => columnScaling(table, c, trainRows));
  const targetScaling = tasks.map((task, t) => (task.kind === 'regression' ? columnScaling(table, targetColumns[t]!, trainRows) : { mean: 0, std: 1 }));
  const split = (rows: Int32Array): MultiTaskSplit => {
    const x = new Float32Array(rows.length * featureColumns.length);
    const y = new Float32Array(rows.length * tasks.length);
    rows.forEach((row, i) => {
      featureColumns.forEach((c, j) => (x[i * featureColumns.length + j] = (table.values[row * table.columns.length + c]! - inputScaling[j]!.mean) / inputScaling[j]!.std));
      targetColumns.forEach((c, t) => (y[i * tasks.length + t] = (table.values[row * table.columns.length + c]! - targetScaling[t]!.mean) / targetScaling[t]!.std));
    });
    return { size: rows.length, x: keep(fromTypedArray(x, [rows.length, featureColumns.length])), y: keep(fromTypedArray(y, [rows.length, tasks.length])) };
  };
  return {
    name: 'csv',
    description: `${file}: ${n} rows, ${featureColumns.length} features, targets ${tasks.map((t) => `${t.name} (${t.kind})`).join(', ')}`,
    input: { kind: 'vector', shape: [featureColumns.length] },
    tasks,
    train: split(trainRows),
    val: split(valRows),
    test: split(testRows),
    targetScaling,
    featureNames,
    inputScaling,
  };
}

function taskSpec(table: NumericTable, name: string, column: number, type: CsvTaskType, file: string): TaskSpec {
  if (type === 'mse') return { name, kind: 'regression' };
  let max = 0;
  for (let r = 0; r < table.rows; r++) {
    const v = table.values[r * table.columns.length + column]!;
    const ok = type === 'bce' ? v === 0 || v === 1 : Number.isInteger(v) && v >= 0;
    if (!ok) throw new Error(`${file}: line ${table.lines[r]}, target '${name}' (${type}) is ${v}; ${type === 'bce' ? 'a bce target must be 0 or 1' : 'a ce target must be a class index 0, 1, 2, …'}`);
    max = Math.max(max, v);
  }
  if (type === 'bce') return { name, kind: 'binary' };
  if (max < 1) throw new Error(`${file}: target '${name}' (ce) has a single class (0); a classification target needs at least 2`);
  return { name, kind: 'classification', numClasses: max + 1 };
}

/** Mean and std of a column over the training rows (std 1 for a constant column, so nothing divides by 0). */
function columnScaling(table: NumericTable, column: number, rows: Int32Array): TargetScaling {
  let sum = 0;
  for (const r of rows) sum += table.values[r * table.columns.length + column]!;
  const mean = sum / rows.length;
  let squares = 0;
  for (const r of rows) squares += (table.values[r * table.columns.length + column]! - mean) ** 2;
  const std = Math.sqrt(squares / rows.length);
  return { mean, std: std > 0 ? std : 1 };
}
