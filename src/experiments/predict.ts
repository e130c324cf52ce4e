import { noGrad } from '../autograd/engine.js';
import type { TargetScaling } from '../data/types.js';
import { MMoE } from '../moe/mmoe.js';
import type { NumericTable } from '../node/data/csv.js';
import { CheckpointError, readCheckpoint } from '../node/checkpoint.js';
import { loadModel } from '../node/model-file.js';
import { fromTypedArray } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { RunDataInfo, TrainMeta } from './train-run.js';
import { UserError } from './user-error.js';

/** A finished `dselect-k train` run: the model rebuilt from its checkpoint and what it knows of its data. */
export interface TrainedRun {
  model: MMoE;
  info: RunDataInfo;
  path: string;
}

/** Loads the model and data description of a train run (folder or .dsk file); problems are UserErrors naming it. */
export function loadTrainedRun(path: string, flag = '--model'): TrainedRun {
  let meta: Partial<TrainMeta> | null;
  try {
    meta = readCheckpoint(path).meta as Partial<TrainMeta> | null;
  } catch (e) {
    if (e instanceof CheckpointError) throw new UserError(`${flag}: ${e.message}`);
    throw e;
  }
  if (!meta?.architecture || !meta.data) {
    throw new UserError(`${flag}: the checkpoint at ${path} was not written by this version of dselect-k train (it lacks the model's architecture and data description); train it again`);
  }
  try {
    return { model: loadModel(path, MMoE).model, info: meta.data, path };
  } catch (e) {
    throw new UserError(`${flag}: ${(e as Error).message}`);
  }
}

/** The model's input columns taken from a table: by name for runs trained on a CSV, else all columns in order. */
export function inputMatrix(run: TrainedRun, table: NumericTable, source: string): Float32Array {
  const width = run.info.input.shape.reduce((a, b) => a * b, 1);
  let columns: number[];
  if (run.info.featureNames) {
    const missing = run.info.featureNames.filter((f) => !table.columns.includes(f));
    if (missing.length > 0) throw new UserError(`${source} lacks the feature column(s) the model was trained on: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
    columns = run.info.featureNames.map((f) => table.columns.indexOf(f));
  } else {
    if (table.columns.length !== width) throw new UserError(`${source} has ${table.columns.length} columns; the model takes ${width} features (one column each, in order)`);
    columns = table.columns.map((_, i) => i);
  }
  const scaling: readonly TargetScaling[] | null = run.info.inputScaling;
  const x = new Float32Array(table.rows * columns.length);
  for (let r = 0; r < table.rows; r++) {
    columns.forEach((c, j) => {
      const v = table.values[r * table.columns.length + c]!;
      x[r * columns.length + j] = scaling ? (v - scaling[j]!.mean) / scaling[j]!.std : v;
    });
  }
  return x;
}

/**
 * Predictions for every row, one column per task: regression in the target's own units (its scaling
 * undone), binary the probability of 1, classification the most likely class index.
 */
export function predictRows(run: TrainedRun, x: Float32Array, rows: number, batchSize = 1024): { columns: string[]; values: Float64Array } {
  const { model, info } = run;
  const width = x.length / Math.max(1, rows);
  const T = info.tasks.length;
  const values = new Float64Array(rows * T);
  model.eval();
  for (let start = 0; start < rows; start += batchSize) {
    const count = Math.min(batchSize, rows - start);
    tidy(() =>
      noGrad(() => {
        const { outputs } = model.forward(fromTypedArray(x.slice(start * width, (start + count) * width), [count, width]));
        outputs.forEach((out, t) => {
          const task = info.tasks[t]!;
          const data = out.toArray();
          const per = data.length / count;
          for (let i = 0; i < count; i++) {
            let v: number;
            if (task.kind === 'regression') {
              const s = info.targetScaling?.[t];
              v = s ? data[i * per]! * s.std + s.mean : data[i * per]!;
            } else if (task.kind === 'binary') {
              v = 1 / (1 + Math.exp(-data[i * per]!));
            } else {
              let best = 0;
              for (let c = 1; c < per; c++) if (data[i * per + c]! > data[i * per + best]!) best = c;
              v = best;
            }
            values[(start + i) * T + t] = v;
          }
        });
      }),
    );
  }
  return { columns: info.tasks.map((t) => t.name), values };
}

/** CSV text of predictions (header, then one line per row; shortest round-trip decimals). */
export function predictionsCsv(columns: readonly string[], values: Float64Array): string {
  const quote = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [columns.map(quote).join(',')];
  for (let r = 0; r < values.length / columns.length; r++) lines.push(Array.from(values.subarray(r * columns.length, (r + 1) * columns.length), String).join(','));
  return lines.join('\n') + '\n';
}
