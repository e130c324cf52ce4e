import { add, mul, sub } from '../autograd/ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertInRange, Optimizer, readNumber, type ParameterSource } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  /** Heavy-ball momentum μ in [0, 1) (default 0). */
  momentum?: number;
  /** L2 penalty added to the gradient: g + weightDecay·p (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0). */
  nesterov?: boolean;
}

function validateSgd(owner: string, momentum: number, weightDecay: number, nesterov: boolean): void {
  assertInRange(owner, 'momentum', momentum, 0, 1);
  assertInRange(owner, 'weightDecay', weightDecay, 0, Infinity);
  if (nesterov && momentum === 0) throw new Error(`${owner}: nesterov needs momentum > 0, got momentum = 0`);
}

/**
 * Stochastic gradient descent, PyTorch's formulation: g ← g + λp; b ← μb + g (b = g on the first
 * step); p ← p − lr·(nesterov ? g + μb : b).
 */
export class SGD extends Optimizer {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;

  constructor(params: ParameterSource, opts: SGDOptions) {
    super('SGD', params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.validate();
  }

  private validate(): void {
    validateSgd('SGD', this.momentum, this.weightDecay, this.nesterov);
  }

  protected checkHyperparameters(h: Record<string, number | boolean>, where: string): void {
    const nesterov = h['nesterov'] ?? this.nesterov;
    if (typeof nesterov !== 'boolean') throw new Error(`${where}: hyperparameter nesterov must be a boolean, got ${JSON.stringify(nesterov)}`);
    validateSgd(`${where}: hyperparameters`, readNumber(h, 'momentum', this.momentum, where), readNumber(h, 'weightDecay', this.weightDecay, where), nesterov);
  }

  protected update(index: number, param: Tensor, grad: Tensor): void {
    let g = this.weightDecay > 0 ? add(grad, mul(param, this.weightDecay)) : grad;
    if (this.momentum > 0) {
      const previous = this.getSlot(index, 'momentum_buffer');
      const buf = this.setSlot(index, 'momentum_buffer', previous ? add(mul(previous, this.momentum), g) : g);
      g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;
    }
    this.assign(param, sub(param, mul(g, this.lr)));
  }

  protected hyperparameters(): Record<string, number | boolean> {
    return { momentum: this.momentum, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected setHyperparameters(h: Record<string, number | boolean>): void {
    this.momentum = readNumber(h, 'momentum', this.momentum);
    this.weightDecay = readNumber(h, 'weightDecay', this.weightDecay);
    if (typeof h['nesterov'] === 'boolean') this.nesterov = h['nesterov'];
    this.validate();
  }
}

