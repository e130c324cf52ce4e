import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import type { Storage } from '../tensor/storage.js';

/**
 * The kernel contract every backend implements. Ops (src/autograd/ops) call these and never branch
 * on which backend is active. Inputs are storages plus shapes; the result's dtype is the inputs'.
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

/** A convolution followed by a non-overlapping max-pool (window = stride = pool). */
export interface ConvPoolGeometry extends Conv2dGeometry {
  pool: number;
  /** ⌊outH / pool⌋, ⌊outW / pool⌋. */
  pooledH: number;
  pooledW: number;
}

/** Which gradients convPoolReluBackward computes. */
export interface ConvPoolNeeds {
  x: boolean;
  weight: boolean;
  bias: boolean;
}

export interface ConvPoolGrads {
  x: Storage | null;
  weight: Storage | null;
  bias: Storage | null;
}

export interface PoolGeometry {
  inputShape: Shape; // [N, C, H, W]
  kernel: number;
  stride: number;
  outH: number;
  outW: number;
}

/** Activations the fused kernels apply ('identity' = bias only). */
export type FusedActivation = 'identity' | 'relu';

/** One Adam/AdamW update (PyTorch's formulation), applied elementwise by `adamUpdate`. */
export interface AdamUpdateArgs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: p ← p·(1 − lr·λ) instead of adding λ·p to the gradient. */
  decoupled: boolean;
  /** Step number, counted from 1 (for the bias corrections). */
  step: number;
}

export interface BiasActivationGrad {
  x: Storage;
  bias: Storage | null;
}

/** One term of `mixRows`: expert output f (row k = batch row rows[k], or k when null) weighted by q's column. */
export interface MixTerm<S = Storage> {
  f: S;
  column: number;
  rows: Int32Array | null;
}

export interface MixRowsGrad {
  q: Storage | null;
  fs: (Storage | null)[];
}

export interface AdamUpdateResult {
  param: Storage;
  /** New first and second moment estimates. */
  m: Storage;
  v: Storage;
}

export interface Backend {
  readonly name: BackendName;
  info(): BackendInfo;

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
  /**
   * relu(maxPool(conv2d(x, weight)) + bias) in one kernel: `values` [N, F, pooledH, pooledW] and, per
   * window, the code dy·pool + dx of its (first) maximum, as float values. `bias` [F] or null.
   */
  convPoolRelu(x: Storage, weight: Storage, bias: Storage | null, geo: ConvPoolGeometry): { values: Storage; codes: Storage };
  /** convPoolRelu's gradients for upstream g (shape of values), from its values and codes. */
  convPoolReluBackward(g: Storage, values: Storage, codes: Storage, x: Storage, weight: Storage, geo: ConvPoolGeometry, needs: ConvPoolNeeds): ConvPoolGrads;

  /** DSelect-k smooth-step S(x) or, with `derivative`, S'(x) (0 outside (−γ/2, γ/2)). */
  smoothStep(x: Storage, gamma: number, derivative: boolean): Storage;
  /**
   * Selector products: s holds S(z) as [rows, m]; out [rows, numExperts] with
   * out[r, e] = Π_j (bit_j(e) ? s[r, j] : 1 − s[r, j]), bits MSB first.
   */
  selectorForward(s: Storage, rows: number, m: number, numExperts: number): Storage;
  /** Gradient w.r.t. s of Σ_e g[r, e]·out[r, e], by leave-one-out prefix/suffix products. */
  selectorBackward(s: Storage, g: Storage, rows: number, m: number, numExperts: number): Storage;

  /**
   * Fused layer epilogue: activation(x + bias), the bias (length = last dim of `shape`) added to
   * every row; `bias` null for the activation alone.
   */
  biasActivation(x: Storage, shape: Shape, bias: Storage | null, activation: FusedActivation): Storage;
  /**
   * biasActivation's backward in one pass: x's gradient g·activation'(·), computed from the output y
   * (relu: g where y > 0, else 0), and with `withBias` the bias gradient, x's gradient summed over
   * every row ([C], C = last dim of `shape`).
   */
  biasActivationGrad(activation: FusedActivation, g: Storage, y: Storage, shape: Shape, withBias: boolean): BiasActivationGrad;
  /**
   * Gate-weighted sum of expert outputs: out[r, :] = Σ_i q[r, c_i] · f_i[k, :] over the terms
   * (f_i, c_i, rows_i) and their rows k, with r = rows_i[k] (r = k when rows_i is null). q is
   * [rows, qCols]; f_i is [rows_i.length or rows, cols]. Each output row sums its terms in order.
   */
  mixRows(q: Storage, qCols: number, terms: readonly MixTerm[], rows: number, cols: number): Storage;
  /**
   * mixRows' backward for upstream g [rows, cols]: q's gradient [rows, qCols] (Σ_j g[r, j]·f_i[k, j]
   * at (r, c_i), 0 elsewhere) when `needQ`, and f_i's, q[r, c_i]·g[r, :] in row k, where `needF[i]`.
   */
  mixRowsGrad(q: Storage, qCols: number, terms: readonly MixTerm[], g: Storage, rows: number, cols: number, needQ: boolean, needF: readonly boolean[]): MixRowsGrad;
  /** Adam/AdamW for one parameter: new (param, m, v) from the old ones and the gradient, in one pass. */
  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, args: AdamUpdateArgs): AdamUpdateResult;
}
