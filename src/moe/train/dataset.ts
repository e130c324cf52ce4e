import { cast, square, sub } from '../../autograd/ops/elementwise.js';
import { mean } from '../../autograd/ops/reduce.js';
import { reshape, transpose } from '../../autograd/ops/shape.js';
import { allocArray, type DType } from '../../tensor/dtype.js';
import { fromTypedArray } from '../../tensor/creation.js';
import { keep } from '../../tensor/scope.js';
import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * Training data for a multi-task model: inputs x [N, ...] and targets, either one tensor y [N, T]
 * (column t = task t's value or class index, the layout of `src/data` splits) or one tensor per task
 * ([N] or [N, ...]).
 */
export interface MultiTaskBatchSource {
  x: Tensor;
  y: Tensor | readonly Tensor[];
}

/** The data split into per-task target tensors, checked against the number of tasks and rows. */
export interface PreparedData {
  x: Tensor;
  targets: Tensor[];
  /** The targets as one [N, T] tensor, when they were given that way (stacked losses use it). */
  matrix: Tensor | null;
  size: number;
}

/** One batch as the training and evaluation loops use it. */
export interface LoadedBatch {
  x: Tensor;
  /** Per task [B] or [B, ...]. */
  readonly targets: readonly Tensor[];
  /** The batch's rows of a [N, T] target matrix, when the data has one. */
  matrix: Tensor | null;
}

/** A batch of in-memory data: x and the target matrix at once, the per-task targets only if asked for. */
export function memoryBatch(data: PreparedData, rows: Int32Array): LoadedBatch {
  let targets: Tensor[] | null = null;
  return {
    x: takeRows(data.x, rows),
    matrix: data.matrix ? takeRows(data.matrix, rows) : null,
    get targets(): Tensor[] {
      targets ??= data.targets.map((t) => takeRows(t, rows));
      return targets;
    },
  };
}

/**
 * Checks `data` against the model and splits its targets per task. `persistent` tensors (the default)
 * are kept out of any open `tidy` scope; a streamed batch is prepared inside the step's scope instead.
 */
export function prepareData(owner: string, data: MultiTaskBatchSource, numTasks: number, dtype: DType, persistent = true): PreparedData {
  const retain = persistent ? keep : (t: Tensor): Tensor => t;
  if (!data || !(data.x instanceof Tensor)) throw new Error(`${owner}: data.x must be a Tensor of inputs [N, ...]`);
  const size = data.x.shape[0];
  if (data.x.ndim < 2 || size === undefined || size === 0) throw new Error(`${owner}: data.x must be [N ≥ 1, features...], got ${formatShape(data.x.shape)}`);
  let targets: Tensor[];
  let matrix: Tensor | null = null;
  if (data.y instanceof Tensor) {
    const y = data.y;
    if (y.ndim !== 2 || y.shape[1] !== numTasks) {
      throw new Error(`${owner}: data.y ${formatShape(y.shape)} must be [N, ${numTasks}] (one column per task) or an array of ${numTasks} tensors`);
    }
    targets = Array.from({ length: numTasks }, (_, t) => retain(columnOf(y, t)));
    matrix = y;
  } else if (Array.isArray(data.y)) {
    if (data.y.length !== numTasks) throw new Error(`${owner}: data.y has ${data.y.length} target tensors for a model with ${numTasks} tasks`);
    targets = data.y.map((t, i) => {
      if (!(t instanceof Tensor)) throw new Error(`${owner}: data.y[${i}] is not a Tensor`);
      return t;
    });
  } else {
    throw new Error(`${owner}: data.y must be a Tensor [N, tasks] or an array of per-task tensors`);
  }
  targets.forEach((t, i) => {
    if (t.shape[0] !== size) throw new Error(`${owner}: targets of task ${i} ${formatShape(t.shape)} have ${t.shape[0]} rows but x has ${size}`);
  });
  assertFiniteRows(owner, 'data.x', data.x);
  targets.forEach((t, i) => assertFiniteRows(owner, `the targets of task ${i}`, t));
  const asDtype = (t: Tensor): Tensor => (t.dtype === dtype ? t : retain(cast(t, dtype)));
  return { x: asDtype(data.x), targets: targets.map(asDtype), matrix: matrix && asDtype(matrix), size };
}

/** NaN or ±Inf in the data would surface later as a NaN loss that looks like a learning-rate problem. */
function assertFiniteRows(owner: string, what: string, t: Tensor): void {
  const values = t.storage.readSync();
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const rowSize = t.size / t.shape[0]!;
      const row = Math.floor(i / rowSize);
      throw new Error(`${owner}: non-finite value ${values[i]} in ${what} ${formatShape(t.shape)} at row ${row}${rowSize > 1 ? `, element ${i - row * rowSize}` : ''}`);
    }
  }
}

function columnOf(y: Tensor, t: number): Tensor {
  const [rows, cols] = y.shape as [number, number];
  const src = y.storage.readSync();
  const out = allocArray(y.dtype, rows);
  for (let r = 0; r < rows; r++) out[r] = src[r * cols + t]!;
  return fromTypedArray(out, [rows]);
}

/** The rows `indices` of t (a fresh constant tensor; the data never needs gradients). */
export function takeRows(t: Tensor, indices: Int32Array): Tensor {
  const rowSize = t.size / t.shape[0]!;
  const src = t.storage.readSync();
  const out = allocArray(t.dtype, indices.length * rowSize);
  for (let i = 0; i < indices.length; i++) out.set(src.subarray(indices[i]! * rowSize, (indices[i]! + 1) * rowSize), i * rowSize);
  return fromTypedArray(out, [indices.length, ...t.shape.slice(1)]);
}

/** Rows per batch must be an integer ≥ 1 (0 would loop forever, NaN would give NaN losses). */
export function checkBatchSize(owner: string, batchSize: unknown): number {
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${owner}: batchSize must be an integer ≥ 1, got ${String(batchSize)}`);
  }
  return batchSize;
}

/** Row indices of every batch of an epoch (the last batch may be smaller). */
export function batchIndices(order: Int32Array, batchSize: number): Int32Array[] {
  checkBatchSize('batchIndices', batchSize);
  const out: Int32Array[] = [];
  for (let start = 0; start < order.length; start += batchSize) out.push(order.subarray(start, Math.min(order.length, start + batchSize)));
  return out;
}

/** True for tensors in memory ({ x, y }), false for a stream of batches. */
export function isInMemory(data: unknown): data is MultiTaskBatchSource {
  return typeof data === 'object' && data !== null && (data as { x?: unknown }).x instanceof Tensor;
}

/**
 * Every task's mean squared error at once from stacked outputs [T, B, 1] and the targets' rows [B, T]:
 * a [T] tensor, entry t equal to task t's mseLoss.
 */
export function stackedMseLosses(stacked: Tensor, targetRows: Tensor): Tensor {
  const [T, B, o] = stacked.shape as [number, number, number];
  if (o !== 1 || targetRows.ndim !== 2 || targetRows.shape[0] !== B || targetRows.shape[1] !== T) {
    throw new Error(`stackedMseLosses: outputs ${formatShape(stacked.shape)} must be [T, B, 1] with targets [B, T], got targets ${formatShape(targetRows.shape)}`);
  }
  return mean(square(sub(reshape(stacked, [T, B]), transpose(targetRows))), 1);
}

/** True when a model output can use `stackedMseLosses`: stacked [T, B, 1] outputs, a target matrix, squared error everywhere. */
export function canStackLosses(stacked: Tensor | undefined, matrix: Tensor | null, losses: readonly string[]): stacked is Tensor {
  return stacked !== undefined && matrix !== null && stacked.ndim === 3 && stacked.shape[2] === 1 && losses.every((l) => l === 'mse');
}
