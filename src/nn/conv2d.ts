import { conv2d, maxPool2d } from '../autograd/ops/conv.js';
import { conv2dPoolRelu } from '../packs/conv-pool-relu/op.js';
import { add, relu } from '../autograd/ops/elementwise.js';
import { reshape } from '../autograd/ops/shape.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { heUniform, initContext, zerosInit, type Initializer } from './init.js';
import { Module } from './module.js';
import { assertPositiveInteger } from './validate.js';

export interface Conv2dLayerOptions {
  /** Square kernel side, or [kH, kW]. */
  kernelSize: number | readonly [number, number];
  stride?: number;
  padding?: number;
  /** Add a bias per filter (default true). */
  bias?: boolean;
  /** Weight initialiser (default He uniform: the layer is usually followed by ReLU); the weight is [F, C, kH, kW]. */
  weightInit?: Initializer;
  biasInit?: Initializer;
  rng?: Rng;
  dtype?: DType;
}

/** A 2-D convolution layer: x [N, C, H, W] → [N, F, outH, outW] with weight [F, C, kH, kW] and bias [F]. */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly stride: number;
  readonly padding: number;
  readonly hasBias: boolean;

  constructor(inChannels: number, outChannels: number, opts: Conv2dLayerOptions) {
    super();
    assertPositiveInteger('Conv2d', 'inChannels', inChannels);
    assertPositiveInteger('Conv2d', 'outChannels', outChannels);
    const [kh, kw] = typeof opts.kernelSize === 'number' ? [opts.kernelSize, opts.kernelSize] : opts.kernelSize;
    assertPositiveInteger('Conv2d', 'kernel height', kh);
    assertPositiveInteger('Conv2d', 'kernel width', kw);
    this.stride = opts.stride ?? 1;
    assertPositiveInteger('Conv2d', 'stride', this.stride);
    this.padding = opts.padding ?? 0;
    if (!Number.isInteger(this.padding) || this.padding < 0) throw new Error(`Conv2d: padding must be an integer ≥ 0, got ${String(this.padding)}`);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelH = kh;
    this.kernelW = kw;
    this.hasBias = opts.bias ?? true;
    const ctx = initContext(inChannels * kh * kw, outChannels * kh * kw, opts);
    this.addParameter('weight', (opts.weightInit ?? heUniform)([outChannels, inChannels, kh, kw], ctx));
    if (this.hasBias) this.addParameter('bias', (opts.biasInit ?? zerosInit)([outChannels], ctx));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.param('bias') : null;
  }

  /** Output [height, width] for an input of [height, width] (no check that it is ≥ 1). */
  outputSize(height: number, width: number): [number, number] {
    return [
      Math.floor((height + 2 * this.padding - this.kernelH) / this.stride) + 1,
      Math.floor((width + 2 * this.padding - this.kernelW) / this.stride) + 1,
    ];
  }

  forward(x: Tensor): Tensor {
    return conv2d(this.checkInput(x), this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }

  /** The convolution without its bias (see `convPoolRelu`). */
  forwardWithoutBias(x: Tensor): Tensor {
    return conv2d(this.checkInput(x), this.weight, null, { stride: this.stride, padding: this.padding });
  }

  /** x, after checking that it is [N, C, H, W] with the layer's channel count. */
  checkInput(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new Error(`Conv2d: input must be [N, C, H, W], got ${formatShape(x.shape)}`);
    if (x.shape[1] !== this.inChannels) {
      throw new Error(`Conv2d: input ${formatShape(x.shape)} has ${x.shape[1]} channels but the layer expects ${this.inChannels} (weight ${formatShape(this.weight.shape)})`);
    }
    return x;
  }
}

/**
 * relu(maxPool(conv(x) + b)) computed as relu(maxPool(conv(x)) + b): a per-channel constant does not
 * move a window's maximum, and ReLU commutes with max, so values and gradients are those of
 * conv → ReLU → pool, with the bias add, the ReLU and their backward on 4× fewer elements. With
 * non-overlapping windows (the usual pool) it is one fused op, conv2dPoolRelu.
 */
export function convPoolRelu(conv: Conv2d, pool: MaxPool2d, x: Tensor): Tensor {
  if (pool.stride === pool.kernel) {
    return conv2dPoolRelu(conv.checkInput(x), conv.weight, conv.bias, { stride: conv.stride, padding: conv.padding, pool: pool.kernel });
  }
  const pooled = pool.forward(conv.forwardWithoutBias(x));
  const b = conv.bias;
  return relu(b ? add(pooled, reshape(b, [conv.outChannels, 1, 1])) : pooled);
}

/** Max pooling over kernel×kernel windows (stride defaults to the kernel); no parameters. */
export class MaxPool2d extends Module {
  readonly kernel: number;
  readonly stride: number;

  constructor(kernel: number, stride = kernel) {
    super();
    assertPositiveInteger('MaxPool2d', 'kernel', kernel);
    assertPositiveInteger('MaxPool2d', 'stride', stride);
    this.kernel = kernel;
    this.stride = stride;
  }

  outputSize(height: number, width: number): [number, number] {
    return [Math.floor((height - this.kernel) / this.stride) + 1, Math.floor((width - this.kernel) / this.stride) + 1];
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernel, this.stride);
  }
}

/** [N, d1, d2, …] → [N, d1·d2·…] (no copy). */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    if (x.ndim < 1) throw new Error(`Flatten: input must have a batch dimension, got ${formatShape(x.shape)}`);
    return x.ndim === 2 ? x : reshape(x, [x.shape[0]!, x.size / Math.max(1, x.shape[0]!)]);
  }
}
