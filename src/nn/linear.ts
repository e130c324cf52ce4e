import { biasActivation } from '../packs/bias-activation/op.js';
import { matmul } from '../autograd/ops/matmul.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { activation as activationFn, type ActivationName } from './activation.js';
import { glorotUniform, initContext, zerosInit, type Initializer } from './init.js';
import { Module } from './module.js';
import { assertPositiveInteger } from './validate.js';

export interface LinearOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Weight initialiser (default Glorot uniform); the weight is [outDim, inDim]. */
  weightInit?: Initializer;
  /** Bias initialiser (default zeros). */
  biasInit?: Initializer;
  rng?: Rng;
  dtype?: DType;
}

/** y = x Wᵀ + b with W of shape [outDim, inDim]; x is [..., inDim]. */
export class Linear extends Module {
  readonly inDim: number;
  readonly outDim: number;
  readonly hasBias: boolean;

  constructor(inDim: number, outDim: number, opts: LinearOptions = {}) {
    super();
    assertPositiveInteger('Linear', 'inDim', inDim);
    assertPositiveInteger('Linear', 'outDim', outDim);
    this.inDim = inDim;
    this.outDim = outDim;
    this.hasBias = opts.bias ?? true;
    const ctx = initContext(inDim, outDim, opts);
    this.addParameter('weight', (opts.weightInit ?? glorotUniform)([outDim, inDim], ctx));
    if (this.hasBias) this.addParameter('bias', (opts.biasInit ?? zerosInit)([outDim], ctx));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.param('bias') : null;
  }

  forward(x: Tensor): Tensor {
    return this.forwardActivated(x, 'identity');
  }

  /**
   * activation(x Wᵀ + b). For 'relu' and 'identity' the bias and activation run as one fused kernel
   * after the matmul (one pass instead of two, in both directions); others are applied after.
   */
  forwardActivated(x: Tensor, activation: ActivationName): Tensor {
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== this.inDim) {
      throw new Error(`Linear: input ${formatShape(x.shape)} must end in inDim = ${this.inDim} features`);
    }
    const y = matmul(x, this.weight, { transB: true });
    if (activation === 'relu' || activation === 'identity') return biasActivation(y, this.bias, activation);
    return activationFn(activation)(biasActivation(y, this.bias, 'identity'));
  }
}
