import { reshape } from '../autograd/ops/shape.js';
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
  private readonly pool: MaxPool2d;

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
    const [c, h, w] = this.inputShape;
    const batch = x.shape[0] ?? 0;
    let images: Tensor;
    if (x.ndim === 4 && x.shape[1] === c && x.shape[2] === h && x.shape[3] === w) images = x;
    else if (x.ndim === 2 && x.shape[1] === c * h * w) images = reshape(x, [batch, c, h, w]);
    else throw new Error(`CnnExpert: input ${formatShape(x.shape)} does not match the expert's images [N, ${c}, ${h}, ${w}] (or rows [N, ${c * h * w}])`);
    let hidden = images;
    for (const conv of this.convs) hidden = convPoolRelu(conv, this.pool, hidden);
    hidden = reshape(hidden, [batch, this.flatFeatures]);
    for (const layer of this.dense) hidden = layer.forwardActivated(hidden, 'relu');
    return hidden;
  }
}
