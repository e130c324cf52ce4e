import { backend } from '../../kernels/registry.js';
import { broadcastShapes, formatShape, shapesEqual, sizeOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { assertTensor, storageOf } from './util.js';

/** Same elements, new shape (no copy); one dim may be -1 and is inferred. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  assertTensor('reshape', x);
  const target = inferShape(x, shape);
  if (shapesEqual(target, x.shape)) return x;
  return recordOp('reshape', x.storage, target, [x], (g) => [reshape(g, x.shape)]);
}

function inferShape(x: Tensor, shape: Shape): number[] {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new Error(`reshape: invalid target shape ${formatShape(shape)} for ${formatShape(x.shape)}`);
  }
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (sizeOf(out) !== x.size || out.some((d) => !Number.isInteger(d))) {
    throw new Error(`reshape: cannot reshape ${formatShape(x.shape)} (${x.size} elements) into ${formatShape(shape)}`);
  }
  return out;
}

/** Broadcasts x to `shape` (materialised); the gradient is summed back centrally. */
export function expand(x: Tensor, shape: Shape): Tensor {
  assertTensor('expand', x);
  const target = broadcastShapes('expand', x.shape, shape);
  if (!shapesEqual(target, shape)) {
    throw new Error(`expand: cannot expand ${formatShape(x.shape)} to ${formatShape(shape)}`);
  }
  if (shapesEqual(x.shape, shape)) return x;
  return recordOp('expand', backend().broadcastTo(storageOf(x), x.shape, shape), shape, [x], (g) => [g]);
}

// TODO(engine-ops helper B): implement with the layout kernels, each with its backward.
const todo = (name: string): never => {
  throw new Error(`${name}: not implemented yet`);
};

/** Reverses the dims, or reorders them by `perm`. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  void x, perm;
  return todo('transpose');
}
/** Reorders dims: out dim i = in dim perm[i]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  void x, perm;
  return todo('permute');
}
/** Removes size-1 dims (all, or those in `axis`). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  void x, axis;
  return todo('squeeze');
}
/** Inserts a size-1 dim at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  void x, axis;
  return todo('unsqueeze');
}
/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  void xs, axis;
  return todo('concat');
}
/** Joins tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  void xs, axis;
  return todo('stack');
}
/** The box starting at `begin` of extent `size` (-1 = to the end). */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  void x, begin, size;
  return todo('slice');
}
/** Selects `indices` along `axis` (index select). */
export function gather(x: Tensor, indices: Int32Array | readonly number[], axis = 0): Tensor {
  void x, indices, axis;
  return todo('gather');
}
/** One-hot rows of length `depth` for integer `indices`. */
export function oneHot(indices: Int32Array | readonly number[], depth: number, dtype: Tensor['dtype'] = 'float32'): Tensor {
  void indices, depth, dtype;
  return todo('oneHot');
}
