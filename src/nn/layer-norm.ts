import { layerNorm } from '../packs/layer-norm/op.js';
import type { DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { constantInit, initContext, zerosInit } from './init.js';
import { Module } from './module.js';
import { assertPositiveInteger } from './validate.js';

export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5, PyTorch's). */
  eps?: number;
  /** Learn a scale (init 1) and a shift (init 0) per normalised element (default true). */
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/**
 * Layer normalisation (Ba et al., 2016) over the last dims `normalizedShape`:
 * y = (x − mean) / √(var + eps) · weight + bias, with the biased variance, as PyTorch's LayerNorm.
 * One fused op (the layer-norm pack) in each direction; its gradient is checked in float64.
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (shape.length === 0) throw new Error('LayerNorm: normalizedShape must name at least one dimension');
    shape.forEach((d, i) => assertPositiveInteger('LayerNorm', `normalizedShape[${i}]`, d));
    const eps = opts.eps ?? 1e-5;
    if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) throw new Error(`LayerNorm: eps must be a finite number > 0, got ${String(eps)}`);
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    if (this.elementwiseAffine) {
      const ctx = initContext(1, 1, { dtype: opts.dtype });
      this.addParameter('weight', constantInit(1)(shape, ctx));
      this.addParameter('bias', zerosInit(shape, ctx));
    }
  }

  forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    const tail = x.shape.slice(x.ndim - k);
    if (x.ndim < k || tail.some((d, i) => d !== this.normalizedShape[i])) {
      throw new Error(`LayerNorm: input ${formatShape(x.shape)} must end in the normalised shape ${formatShape(this.normalizedShape)}`);
    }
    const cols = this.normalizedShape.reduce((a, b) => a * b, 1);
    return this.elementwiseAffine ? layerNorm(x, this.param('weight'), this.param('bias'), cols, this.eps) : layerNorm(x, null, null, cols, this.eps);
  }
}
