import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import type { Storage } from '../tensor/storage.js';

/**
 * The generic kernel contract every backend implements: elementwise, reduce, layout, matmul, conv and
 * pool. Ops (src/autograd/ops) call these and never branch on which backend is active; fused and domain
 * kernels live with their op in src/packs. Inputs are storages plus shapes; the result's dtype is the inputs'.
 * Storages of another backend are first brought here with `adopt`.
 */
export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'abs'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'softplus'
  | 'sign'
  | 'step' // 1 where x > 0, else 0 (ReLU's derivative)
  | 'square'
  | 'reciprocal';

export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge';

export type ReduceOp = 'sum' | 'max' | 'min';

export type BackendName = 'cpu' | 'gpu';

/** The GPU.js implementations a kernel can really run on. */
export type GpuMode = 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu' | 'webasm' | 'cpu';
/**
 * What may be asked for: a mode, or 'auto' — with `setBackendAsync`, webgpu where an adapter answers;
 * otherwise (and always with the synchronous `setBackend`) GPU.js's order headlessgl/webgl2/webgl → webasm → cpu.
 */
export type GpuModeRequest = 'auto' | GpuMode;


export interface BackendInfo {
  name: BackendName;
  /** What really ran: 'cpu' for the typed-array kernels; for gpu the GPU.js mode (headlessgl, webgpu, webasm, cpu). */
  mode: string;
  /** Kernels this backend does not implement itself and runs on the cpu kernels instead. */
  fallbacks: readonly string[];
  /** Which implementation the hot kernels use, e.g. `matmul: wasm-simd, 1 thread`. */
  kernels?: string;
}

export interface MatmulArgs {
  /** Shapes as stored (rank ≥ 2); with `transA` the last two dims of a are read as transposed. */
  aShape: Shape;
  bShape: Shape;
  transA: boolean;
  transB: boolean;
  /** Broadcast batch dims followed by [m, n]. */
  outShape: Shape;
}

export interface Conv2dGeometry {
  /** Input [N, C, H, W]. */
  inputShape: Shape;
  kernelH: number;
  kernelW: number;
  stride: number;
  padding: number;
  outH: number;
  outW: number;
}

export interface PoolGeometry {
  inputShape: Shape; // [N, C, H, W]
  kernel: number;
  stride: number;
  outH: number;
  outW: number;
}

export interface Backend {
  readonly name: BackendName;
  info(): BackendInfo;
  /**
   * False on a device that reads back only asynchronously (WebGPU): `readSync` of a computed result
   * throws there, and code with a dense alternative to a host read (sparse expert evaluation) takes it.
   * Absent means true.
   */
  readonly readsSync?: boolean;
  /** Resolves when every kernel enqueued so far has been built, submitted and executed (absent: nothing to wait for). */
  ready?(): Promise<void>;

  /** Returns `s` if this backend can use it as is, otherwise a copy owned by this backend. */
  adopt(s: Storage): Storage;
  fromHost(data: TypedArray): Storage;
  fill(size: number, value: number, dtype: DType): Storage;
  cast(x: Storage, dtype: DType): Storage;

  unary(op: UnaryOp, x: Storage): Storage;
  clamp(x: Storage, low: number, high: number): Storage;
  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage;
  where(cond: Storage, condShape: Shape, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage;

  /** Reduces the (sorted) `axes` of `x`; the result holds the kept dims in order. */
  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage;
  /**
   * log Σ exp over the (sorted) `axes`, max-shifted so ±1000 stays finite; the result holds the kept
   * dims in order. A lane of −∞ gives −∞, a +∞ entry +∞, a NaN NaN (as `logsumexpComposed` does).
   */
  logsumexp(x: Storage, shape: Shape, axes: readonly number[]): Storage;
  /** Index of the max along `axis` (as float values), shape with `axis` removed. */
  argmax(x: Storage, shape: Shape, axis: number): Storage;

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage;
  /** Numerically stable (log-)softmax along `axis`. */
  softmax(x: Storage, shape: Shape, axis: number, log: boolean): Storage;

  /** Contiguous copy with dims reordered: out dim i = in dim perm[i]. */
  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage;
  /** Broadcasts `x` of `shape` to `outShape` (materialised). */
  broadcastTo(x: Storage, shape: Shape, outShape: Shape): Storage;
  /** The box [begin, begin + size) of `x`. */
  slice(x: Storage, shape: Shape, begin: readonly number[], size: readonly number[]): Storage;
  /** Zeros of `outShape` with `x` written at `begin` (slice's backward). */
  pad(x: Storage, shape: Shape, begin: readonly number[], outShape: Shape): Storage;
  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage;
  /** Selects `indices` along `axis`. */
  gather(x: Storage, shape: Shape, indices: Int32Array, axis: number): Storage;
  /** Zeros of `outShape` with the slices of `g` added at `indices` along `axis` (gather's backward). */
  scatterAdd(g: Storage, gShape: Shape, indices: Int32Array, axis: number, outShape: Shape): Storage;
  oneHot(indices: Int32Array, depth: number, dtype: DType): Storage;

  /** [N, C, H, W] → columns [N, C·kH·kW, outH·outW]. */
  im2col(x: Storage, geo: Conv2dGeometry): Storage;
  /** Adds columns back into an image of geo.inputShape (im2col's adjoint). */
  col2im(cols: Storage, geo: Conv2dGeometry): Storage;
  /** Max pooling; `argmax` holds the flat input index each output came from (as float values). */
  maxPool2d(x: Storage, geo: PoolGeometry): { values: Storage; argmax: Storage };
  maxPool2dBackward(g: Storage, argmax: Storage, geo: PoolGeometry): Storage;
}
