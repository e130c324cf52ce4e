import { backend } from '../../kernels/registry.js';
import { assertDType, type DType } from '../../tensor/dtype.js';
import { broadcastShapes, formatShape, normalizeAxis, shapesEqual, sizeOf, type Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../engine.js';
import { assertInteger, assertSameDType, assertTensor, describe, storageOf } from './util.js';

/**
 * Every name this file records in the graph (squeeze, unsqueeze and stack are built from reshape and
 * concat; pad and scatterAdd are the adjoints of slice and gather); each needs a gradcheck case.
 */
export const SHAPE_OPS = ['reshape', 'expand', 'transpose', 'permute', 'concat', 'slice', 'pad', 'gather', 'scatterAdd'] as const;

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


/** Reverses the dims, or reorders them by `perm` (then the same as `permute`). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  assertTensor('transpose', x);
  return permuteAs('transpose', x, perm ?? Array.from({ length: x.ndim }, (_, i) => x.ndim - 1 - i));
}

/** Reorders dims: out dim i = in dim perm[i] (negative entries count from the end). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  assertTensor('permute', x);
  return permuteAs('permute', x, perm);
}

function permuteAs(op: string, x: Tensor, perm: readonly number[]): Tensor {
  const axes = checkPermutation(op, x.shape, perm);
  if (axes.every((p, i) => p === i)) return x;
  const shape = axes.map((p) => x.shape[p]!);
  const inverse = new Array<number>(axes.length);
  axes.forEach((p, i) => (inverse[p] = i));
  return recordOp(op, backend().permute(storageOf(x), x.shape, axes), shape, [x], (g) => [permute(g, inverse)]);
}

function checkPermutation(op: string, shape: Shape, perm: readonly number[]): number[] {
  const bad = (): Error => new Error(`${op}: [${perm.join(',')}] is not a permutation of the ${shape.length} dims of ${formatShape(shape)}`);
  if (!Array.isArray(perm) || perm.length !== shape.length) throw bad();
  const axes = perm.map((p: number) => {
    if (!Number.isInteger(p) || p < -shape.length || p >= shape.length) throw bad();
    return p < 0 ? p + shape.length : p;
  });
  if (new Set(axes).size !== axes.length) throw bad();
  return axes;
}

/** Removes size-1 dims (all of them, or those in `axis`, which must have size 1). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  assertTensor('squeeze', x);
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const list = typeof axis === 'number' ? [axis] : axis;
  const axes = new Set(list.map((a) => normalizeAxis('squeeze', a, x.ndim)));
  for (const a of axes) {
    if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of ${formatShape(x.shape)} has size ${x.shape[a]}, not 1`);
  }
  return reshape(x, x.shape.filter((_, i) => !axes.has(i)));
}

/** Inserts a size-1 dim at `axis` (in −(ndim+1)..ndim, so −1 appends). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  assertTensor('unsqueeze', x);
  const a = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Joins tensors along an existing axis; every other dim must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const first = checkList('concat', xs);
  if (first.ndim === 0) throw new Error('concat: cannot concatenate 0-d tensors (use stack)');
  const a = normalizeAxis('concat', axis, first.ndim);
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${formatShape(first.shape)} and ${formatShape(t.shape)} differ outside axis ${a}`);
    }
  }
  if (xs.length === 1) return first;
  const shape = [...first.shape];
  shape[a] = xs.reduce((p, t) => p + t.shape[a]!, 0);
  const shapes = xs.map((t) => t.shape);
  const storage = backend().concat(xs.map(storageOf), shapes, a);
  return recordOp('concat', storage, shape, xs, (g) => {
    let start = 0;
    return xs.map((t) => {
      const begin = shape.map((_, i) => (i === a ? start : 0));
      start += t.shape[a]!;
      return t.requiresGrad ? slice(g, begin, t.shape) : null;
    });
  });
}

/** Joins same-shaped tensors along a new axis (in −(ndim+1)..ndim). */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const first = checkList('stack', xs);
  for (const t of xs) {
    if (!shapesEqual(t.shape, first.shape)) {
      throw new Error(`stack: shapes ${formatShape(first.shape)} and ${formatShape(t.shape)} differ (stack needs equal shapes)`);
    }
  }
  const a = normalizeAxis('stack', axis, first.ndim + 1);
  return concat(
    xs.map((t) => unsqueeze(t, a)),
    a,
  );
}

function checkList(op: string, xs: readonly Tensor[]): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error(`${op}: expected a non-empty array of tensors, got ${describe(xs)}`);
  xs.forEach((t, i) => assertTensor(op, t, `input ${i}`));
  const first = xs[0]!;
  for (const t of xs) assertSameDType(op, first, t);
  return first;
}

/**
 * The box starting at `begin` of extent `size` (-1 = to the end; `size` omitted = to the end on
 * every axis). `begin` may be shorter than the rank: the remaining dims are taken whole.
 * Begins are non-negative (no counting from the end).
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  assertTensor('slice', x);
  const box = `begin [${begin.join(',')}]${size ? ` size [${size.join(',')}]` : ''}`;
  if (begin.length > x.ndim || (size !== undefined && size.length !== begin.length)) {
    throw new Error(`slice: ${box} must have one entry per leading dim of ${formatShape(x.shape)} (and size as many as begin)`);
  }
  const b = x.shape.map((_, i) => begin[i] ?? 0);
  const extent = x.shape.map((d, i) => {
    const s = size?.[i] ?? -1;
    return s === -1 ? d - b[i]! : s;
  });
  for (let i = 0; i < x.ndim; i++) {
    const d = x.shape[i]!;
    const lo = b[i]!;
    const n = extent[i]!;
    if (!Number.isInteger(lo) || !Number.isInteger(n) || lo < 0 || n < 0 || lo + n > d) {
      throw new Error(`slice: ${box} is out of bounds for ${formatShape(x.shape)} on axis ${i} (${lo} + ${n} > ${d} or negative)`);
    }
  }
  if (shapesEqual(extent, x.shape)) return x;
  return recordOp('slice', backend().slice(storageOf(x), x.shape, b, extent), extent, [x], (g) => [padTo(g, b, x.shape)]);
}

/** Zeros of `shape` with `x` at `begin`: slice's adjoint, recorded so it differentiates back to a slice. Exported for the gradient checks only. */
export function padTo(x: Tensor, begin: readonly number[], shape: Shape): Tensor {
  return recordOp('pad', backend().pad(storageOf(x), x.shape, begin, shape), shape, [x], (g) => [slice(g, begin, x.shape)]);
}

/**
 * Selects `indices` along `axis` (index select); indices may repeat. Negative indices are rejected
 * (a -1 is far more often a sentinel bug than "the last row").
 */
export function gather(x: Tensor, indices: Int32Array | readonly number[], axis = 0): Tensor {
  assertTensor('gather', x);
  if (x.ndim === 0) throw new Error('gather: cannot index a 0-d tensor');
  const a = normalizeAxis('gather', axis, x.ndim);
  const idx = checkIndices('gather', indices, x.shape[a]!, () => `for axis ${a} of size ${x.shape[a]} (shape ${formatShape(x.shape)})`);
  const shape = [...x.shape];
  shape[a] = idx.length;
  return recordOp('gather', backend().gather(storageOf(x), x.shape, idx, a), shape, [x], (g) => [scatterAdd(g, idx, a, x.shape)]);
}

/** Zeros of `shape` with the slices of `g` added at `indices` along `axis` (gather's adjoint). Exported for the gradient checks only. */
export function scatterAdd(g: Tensor, indices: Int32Array, axis: number, shape: Shape): Tensor {
  const storage = backend().scatterAdd(storageOf(g), g.shape, indices, axis, shape);
  return recordOp('scatterAdd', storage, shape, [g], (gg) => [gather(gg, indices, axis)]);
}

/** A private Int32Array copy of `indices` (the graph keeps it), each an integer in [0, bound). */
function checkIndices(op: string, indices: Int32Array | readonly number[], bound: number, where: string | (() => string)): Int32Array {
  if (!(indices instanceof Int32Array) && !Array.isArray(indices)) {
    throw new Error(`${op}: indices must be an Int32Array or an array of integers, got ${describe(indices)}`);
  }
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${op}: index ${String(v)} at position ${i} is not an integer`);
    if (v < 0 || v >= bound) throw new Error(`${op}: index ${v} at position ${i} is out of range ${typeof where === 'string' ? where : where()}`);
    out[i] = v;
  }
  return out;
}

/** One-hot rows [indices.length, depth]; every index an integer in [0, depth). Not differentiable. */
export function oneHot(indices: Int32Array | readonly number[], depth: number, dtype: DType = 'float32'): Tensor {
  assertInteger('oneHot', 'depth', depth, 1);
  assertDType('oneHot', dtype);
  const idx = checkIndices('oneHot', indices, depth, `for depth ${depth}`);
  return new Tensor(backend().oneHot(idx, depth, dtype), [idx.length, depth]);
}
