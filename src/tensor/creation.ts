import { allocArray, assertDType, DEFAULT_DTYPE, dtypeOfArray, type DType, type TypedArray } from './dtype.js';
import { getGlobalRng, type Rng } from './random.js';
import { assertValidShape, formatShape, sizeOf, type Shape } from './shape.js';
import { HostStorage } from './storage.js';
import { Tensor } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface TensorDataOptions extends TensorOptions {
  /** Shape of flat or typed-array data; inferred from nesting otherwise. */
  shape?: Shape;
}

export interface RandomOptions extends TensorOptions {
  rng?: Rng;
}

/** Most elements a tensor may have: about the longest typed array Node 20 makes (16 GiB of float32). */
export const MAX_TENSOR_ELEMENTS = 2 ** 32 - 1;

function isNumberArray(data: ArrayBufferView): boolean {
  return !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array);
}

export type NestedArray = number | readonly NestedArray[];
export type TensorData = NestedArray | TypedArray | readonly number[];

/** Wraps a Float32Array or Float64Array (taken over, not copied) as a tensor of `shape`. */
export function fromTypedArray(data: TypedArray, shape: Shape, requiresGrad = false): Tensor {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    // An Int32Array or Uint8Array would be read as float32 bit patterns: 1 becomes 1.4e-45.
    throw new Error(`fromTypedArray: expected a Float32Array or Float64Array, got ${describeData(data)}; convert first, e.g. Float32Array.from(data)`);
  }
  assertValidShape('fromTypedArray', shape);
  if (sizeOf(shape) !== data.length) {
    throw new Error(`fromTypedArray: ${data.length} elements cannot take shape ${formatShape(shape)} (needs ${sizeOf(shape)})`);
  }
  return new Tensor(new HostStorage(data), shape, requiresGrad);
}

function describeData(data: unknown): string {
  if (data === null || data === undefined) return String(data);
  const name = (data as { constructor?: { name?: string } }).constructor?.name;
  return typeof name === 'string' ? name : typeof data;
}

/** A zeroed array for `shape`, or an error naming the op and the shape when it cannot be allocated. */
function allocate(op: string, dtype: DType, shape: Shape): TypedArray {
  return allocElements(op, dtype, sizeOf(shape), formatShape(shape));
}

function allocElements(op: string, dtype: DType, count: number, what: string): TypedArray {
  const bytes = count * (dtype === 'float64' ? 8 : 4);
  if (!Number.isSafeInteger(count) || count > MAX_TENSOR_ELEMENTS) {
    throw new Error(`${op}: ${what} has ${count} elements (${bytes} bytes of ${dtype}); a tensor holds at most ${MAX_TENSOR_ELEMENTS} elements`);
  }
  try {
    return allocArray(dtype, count);
  } catch (e) {
    throw new Error(`${op}: cannot allocate ${what}, ${count} ${dtype} elements (${bytes} bytes): ${(e as Error).message}`);
  }
}

/** Builds a tensor from nested arrays, a flat array or a typed array (copied). */
export function tensor(data: TensorData, opts: TensorDataOptions = {}): Tensor {
  if (ArrayBuffer.isView(data) && !isNumberArray(data)) {
    throw new Error(`tensor: ${describeData(data)} is not supported; pass numbers, nested arrays or a typed array of numbers (not BigInt)`);
  }
  const inferredDtype = ArrayBuffer.isView(data) ? dtypeOfArray(data as TypedArray) : DEFAULT_DTYPE;
  const dtype = opts.dtype === undefined ? inferredDtype : assertDType('tensor', opts.dtype);
  let flat: ArrayLike<number>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data as TypedArray;
    shape = [flat.length];
  } else {
    const parsed = flattenNested(data as NestedArray);
    flat = parsed.values;
    shape = parsed.shape;
  }
  if (opts.shape !== undefined) {
    assertValidShape('tensor', opts.shape);
    if (sizeOf(opts.shape) !== flat.length) {
      throw new Error(`tensor: ${flat.length} values cannot take shape ${formatShape(opts.shape)} (needs ${sizeOf(opts.shape)})`);
    }
    shape = [...opts.shape];
  }
  const out = allocElements('tensor', dtype, flat.length, formatShape(shape));
  out.set(flat);
  return fromTypedArray(out, shape, opts.requiresGrad ?? false);
}

function flattenNested(data: NestedArray): { values: number[]; shape: number[] } {
  if (typeof data === 'number') return { values: [data], shape: [] };
  const shape: number[] = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0] as NestedArray;
  }
  const values: number[] = [];
  const walk = (node: NestedArray, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new Error(`tensor: ragged nested array at ${path || 'root'} (expected a number)`);
      if (typeof node !== 'number') throw new Error(`tensor: expected a number at ${path || 'root'}, got ${node === null ? 'null' : typeof node}`);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new Error(`tensor: ragged nested array at ${path || 'root'} (expected length ${shape[depth]})`);
    }
    node.forEach((child: NestedArray, i: number) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, '');
  return { values, shape };
}

export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}

export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return filled('zeros', shape, 0, opts);
}

export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}

function filled(op: string, shape: Shape, value: number, opts: TensorOptions): Tensor {
  assertValidShape(op, shape);
  const data = allocate(op, assertDType(op, opts.dtype ?? DEFAULT_DTYPE), shape);
  if (value !== 0) data.fill(value);
  return fromTypedArray(data, shape, opts.requiresGrad ?? false);
}

/** Uniform in [low, high) (default [0, 1)), from `opts.rng` or the global seeded generator. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  assertValidShape('rand', shape);
  const rng = opts.rng ?? getGlobalRng();
  const low = opts.low ?? 0;
  const high = opts.high ?? 1;
  const data = allocate('rand', assertDType('rand', opts.dtype ?? DEFAULT_DTYPE), shape);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniformIn(low, high);
  return fromTypedArray(data, shape, opts.requiresGrad ?? false);
}

/** Normal with the given mean and std (default standard normal). */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  assertValidShape('randn', shape);
  const rng = opts.rng ?? getGlobalRng();
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  const data = allocate('randn', assertDType('randn', opts.dtype ?? DEFAULT_DTYPE), shape);
  for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.normal();
  return fromTypedArray(data, shape, opts.requiresGrad ?? false);
}

/** [start, stop) in steps of `step`, like numpy.arange. */
export function arange(start: number, stop?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be finite and non-zero, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(stop)) {
    throw new Error(`arange: start and stop must be finite, got start=${start}, stop=${stop}`);
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocElements('arange', assertDType('arange', opts.dtype ?? DEFAULT_DTYPE), n, `arange(${start}, ${stop}, ${step})`);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromTypedArray(data, [n], opts.requiresGrad ?? false);
}

/** Identity matrix n×m (m defaults to n). */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  assertValidShape('eye', [n, m]);
  const data = allocate('eye', assertDType('eye', opts.dtype ?? DEFAULT_DTYPE), [n, m]);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return fromTypedArray(data, [n, m], opts.requiresGrad ?? false);
}
