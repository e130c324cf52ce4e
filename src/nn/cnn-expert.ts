import { add, relu } from '../autograd/ops/elementwise.js';
import { matmul } from '../autograd/ops/matmul.js';
import { concat, permute, reshape, slice, stack } from '../autograd/ops/shape.js';
import { conv2dPoolRelu } from '../packs/conv-pool-relu/op.js';
import { matmulSettings } from '../kernels/cpu/matmul-config.js';
import { backend } from '../kernels/registry.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { Conv2d, convPoolRelu, MaxPool2d } from './conv2d.js';
import { heUniform } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { ModuleList } from './module-list.js';
import { assertPositiveInteger } from './validate.js';

export interface CnnExpertOptions {
  /** [channels, height, width] of one input image (default [1, 36, 36]: Multi-MNIST canvases). */
  inputShape?: readonly [number, number, number];
  /** Filters of each conv block (default [10, 20]). */
  filters?: readonly number[];
  /** Square kernel side of every conv (default 5). */
  kernelSize?: number;
  /** Max-pool window after every conv (default 2). */
  pool?: number;
  /** Widths of the dense layers after the conv blocks (default [50, 50]); the last one is the output. */
  dense?: readonly number[];
  rng?: Rng;
  dtype?: DType;
}

export const CNN_EXPERT_DEFAULTS = {
  inputShape: [1, 36, 36] as const,
  filters: [10, 20] as const,
  kernelSize: 5,
  pool: 2,
  dense: [50, 50] as const,
};

/**
 * The expert of the Multi-MNIST experiments (DSelect-k paper, after MMoE): conv 5×5×10, max-pool 2,
 * conv 5×5×20, max-pool 2, dense 50, dense 50, ReLU after every layer. Accepts images [N, C, H, W]
 * or the same rows flattened [N, C·H·W]; returns [N, dense.at(-1)].
 */
export class CnnExpert extends Module {
  readonly inputShape: readonly [number, number, number];
  readonly outputDim: number;
  /** Features after the last conv block (input of the first dense layer). */
  readonly flatFeatures: number;
  readonly convs: ModuleList<Conv2d>;
  readonly dense: ModuleList<Linear>;
  readonly pool: MaxPool2d;

  constructor(opts: CnnExpertOptions = {}) {
    super();
    const owner = 'CnnExpert';
    const inputShape = opts.inputShape ?? CNN_EXPERT_DEFAULTS.inputShape;
    if (!Array.isArray(inputShape) || inputShape.length !== 3) throw new Error(`${owner}: inputShape must be [channels, height, width], got ${JSON.stringify(inputShape)}`);
    inputShape.forEach((d, i) => assertPositiveInteger(owner, `inputShape[${i}]`, d));
    const filters = opts.filters ?? CNN_EXPERT_DEFAULTS.filters;
    const denseWidths = opts.dense ?? CNN_EXPERT_DEFAULTS.dense;
    if (filters.length < 1) throw new Error(`${owner}: needs at least one conv block (filters is empty)`);
    if (denseWidths.length < 1) throw new Error(`${owner}: needs at least one dense layer (dense is empty)`);
    filters.forEach((f, i) => assertPositiveInteger(owner, `filters[${i}]`, f));
    denseWidths.forEach((d, i) => assertPositiveInteger(owner, `dense[${i}]`, d));
    const kernelSize = opts.kernelSize ?? CNN_EXPERT_DEFAULTS.kernelSize;
    this.pool = this.addModule('pool', new MaxPool2d(opts.pool ?? CNN_EXPERT_DEFAULTS.pool));

    const convs: Conv2d[] = [];
    let [channels, height, width] = inputShape;
    for (const [i, f] of filters.entries()) {
      const conv = new Conv2d(channels, f, { kernelSize, rng: opts.rng, dtype: opts.dtype });
      const [ch, cw] = conv.outputSize(height, width);
      if (ch < this.pool.kernel || cw < this.pool.kernel) {
        throw new Error(`${owner}: input ${formatShape(inputShape)} is too small: conv block ${i} (kernel ${kernelSize}, pool ${this.pool.kernel}) gets ${height}×${width}`);
      }
      [height, width] = this.pool.outputSize(ch, cw);
      channels = f;
      convs.push(conv);
    }
    this.convs = this.addModule('convs', new ModuleList(convs));
    this.flatFeatures = channels * height * width;
    const widths = [this.flatFeatures, ...denseWidths];
    const linears = denseWidths.map((d, i) => new Linear(widths[i]!, d, { weightInit: heUniform, rng: opts.rng, dtype: opts.dtype }));
    this.dense = this.addModule('dense', new ModuleList(linears));
    this.inputShape = [...inputShape] as unknown as readonly [number, number, number];
    this.outputDim = denseWidths[denseWidths.length - 1]!;
  }

  forward(x: Tensor): Tensor {
    const batch = x.shape[0] ?? 0;
    let hidden = this.images(x);
    for (const conv of this.convs) hidden = convPoolRelu(conv, this.pool, hidden);
    hidden = reshape(hidden, [batch, this.flatFeatures]);
    for (const layer of this.dense) hidden = layer.forwardActivated(hidden, 'relu');
    return hidden;
  }

  /** x as images [N, C, H, W] (rows [N, C·H·W] reshaped). */
  images(x: Tensor): Tensor {
    const [c, h, w] = this.inputShape;
    const batch = x.shape[0] ?? 0;
    if (x.ndim === 4 && x.shape[1] === c && x.shape[2] === h && x.shape[3] === w) return x;
    if (x.ndim === 2 && x.shape[1] === c * h * w) return reshape(x, [batch, c, h, w]);
    throw new Error(`CnnExpert: input ${formatShape(x.shape)} does not match the expert's images [N, ${c}, ${h}, ${w}] (or rows [N, ${c * h * w}])`);
  }

  /** What two experts must share to run together (forwardExpertsTogether): layer shapes, options, dtype. */
  architecture(): string {
    const convs = this.convs.items.map((c) => [c.inChannels, c.outChannels, c.kernelH, c.kernelW, c.stride, c.padding, c.hasBias]);
    const dense = this.dense.items.map((l) => [l.inDim, l.outDim, l.hasBias]);
    return JSON.stringify([this.inputShape, this.pool.kernel, this.pool.stride, convs, dense, this.convs.at(0).weight.dtype]);
  }
}

/**
 * Whether mixtures run their CNN experts together here (forwardExpertsTogether). Measured on the CNN
 * MMoE training step (8 experts, batch 64, 2-core Xeon): on one thread it does not pay (65.0 vs 64.3 ms
 * median, 60 interleaved steps each: stacking the weights, the permute and the slices cost what the fewer
 * calls save, the kernels' work being the same); with two threads it does (one hand-off to the worker
 * per layer instead of one per expert: 81 vs 85 ms with another process busy on the second core). On
 * other backends the grouped conv runs as one call per group, so there it never pays.
 */
export function expertsTogetherPay(): boolean {
  return backend().name === 'cpu' && matmulSettings().threads > 1;
}

/**
 * Experts of one architecture on the same input, as a few ops instead of a few per expert: the first
 * conv block as ONE conv with every expert's filters (the input read once), each later block as one
 * grouped conv (group e = expert e), the dense layers as batched matmuls over the experts. The
 * parameters stay in each expert (stacked for the call, so their gradients land where they are), and
 * the values and gradients are those of calling each expert's forward: every filter, group and batch
 * item runs the same kernel on the same numbers (test/cnn-batched.test.ts). Returns each expert's
 * output [N, d], or null when the experts cannot run together (fewer than two, not all CnnExperts of one
 * architecture, or a pool whose windows overlap).
 */
export function forwardExpertsTogether(experts: readonly unknown[], x: Tensor): Tensor[] | null {
  if (experts.length < 2 || !experts.every((e): e is CnnExpert => e instanceof CnnExpert)) return null;
  const first = experts[0]!;
  if (first.pool.stride !== first.pool.kernel) return null;
  const kind = first.architecture();
  if (experts.some((e) => e.architecture() !== kind)) return null;
  const E = experts.length;
  const batch = x.shape[0] ?? 0;
  const pool = first.pool.kernel;
  let hidden = first.images(x);
  first.convs.items.forEach((conv, i) => {
    const layer = experts.map((e) => e.convs.at(i));
    const weight = concat(layer.map((c) => c.weight), 0);
    const bias = conv.hasBias ? concat(layer.map((c) => c.bias!), 0) : null;
    hidden = conv2dPoolRelu(hidden, weight, bias, { stride: conv.stride, padding: conv.padding, pool, groups: i === 0 ? 1 : E });
  });
  // [N, E·F, PH, PW] → [E, N, features]: expert e's features are contiguous per row.
  hidden = permute(reshape(hidden, [batch, E, first.flatFeatures]), [1, 0, 2]);
  first.dense.items.forEach((layer, i) => {
    const weights = stack(experts.map((e) => e.dense.at(i).weight), 0); // [E, out, in]
    hidden = matmul(hidden, weights, { transB: true });
    if (layer.hasBias) hidden = add(hidden, reshape(stack(experts.map((e) => e.dense.at(i).bias!), 0), [E, 1, layer.outDim]));
    hidden = relu(hidden);
  });
  const d = first.outputDim;
  return experts.map((_, e) => reshape(slice(hidden, [e, 0, 0], [1, batch, d]), [batch, d]));
}
