import { adamStep } from '../packs/adam-update/op.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertInRange, assertPositive, Optimizer, readNumber, type ParameterSource } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  /** (β1, β2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay p ← p − lr·λ·p (default 1e-2). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba) in PyTorch's formulation: m ← β1m + (1−β1)g, v ← β2v + (1−β2)g²,
 * p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps). With `decoupled` (AdamW) the weight decay
 * shrinks p directly instead of being added to the gradient.
 */
export class Adam extends Optimizer {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  private readonly decoupled: boolean;

  constructor(params: ParameterSource, opts: AdamOptions = {}, decoupled = false) {
    const type = decoupled ? 'AdamW' : 'Adam';
    super(type, params, opts.lr ?? 1e-3);
    this.decoupled = decoupled;
    const betas = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${type}: betas must be a pair [β1, β2], got ${String(betas)}`);
    this.beta1 = betas[0];
    this.beta2 = betas[1];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? (decoupled ? 1e-2 : 0);
    this.validate();
  }

  private validate(): void {
    validateAdam(this.type, this.beta1, this.beta2, this.eps, this.weightDecay);
  }

  /** One fused kernel per parameter (the adam-update pack). */
  protected update(index: number, param: Tensor, grad: Tensor, t: number): void {
    const r = adamStep(param, grad, { m: this.getSlot(index, 'exp_avg'), v: this.getSlot(index, 'exp_avg_sq') }, {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      step: t,
    });
    this.setSlot(index, 'exp_avg', r.m);
    this.setSlot(index, 'exp_avg_sq', r.v);
    this.assign(param, r.param);
  }

  protected hyperparameters(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected checkHyperparameters(h: Record<string, number | boolean>, where: string): void {
    const read = (name: string, fallback: number): number => readNumber(h, name, fallback, where);
    validateAdam(`${where}: hyperparameters`, read('beta1', this.beta1), read('beta2', this.beta2), read('eps', this.eps), read('weightDecay', this.weightDecay));
  }

  protected setHyperparameters(h: Record<string, number | boolean>): void {
    this.beta1 = readNumber(h, 'beta1', this.beta1);
    this.beta2 = readNumber(h, 'beta2', this.beta2);
    this.eps = readNumber(h, 'eps', this.eps);
    this.weightDecay = readNumber(h, 'weightDecay', this.weightDecay);
    this.validate();
  }
}

function validateAdam(owner: string, beta1: number, beta2: number, eps: number, weightDecay: number): void {
  assertInRange(owner, 'betas[0]', beta1, 0, 1);
  assertInRange(owner, 'betas[1]', beta2, 0, 1);
  assertPositive(owner, 'eps', eps);
  assertInRange(owner, 'weightDecay', weightDecay, 0, Infinity);
}

/** Adam with decoupled weight decay (Loshchilov & Hutter), default weightDecay 1e-2. */
export class AdamW extends Adam {
  constructor(params: ParameterSource, opts: AdamOptions = {}) {
    super(params, opts, true);
  }
}
