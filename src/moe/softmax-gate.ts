import { expand, reshape } from '../autograd/ops/shape.js';
import { softmax } from '../autograd/ops/softmax.js';
import { initContext, uniformInit } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkExpertCount, checkInputDim, Gate, type GateOutput } from './gate.js';

export interface SoftmaxGateOptions {
  numExperts: number;
  /** Required when perExample (the default). */
  inputDim?: number;
  /** softmax(W x + b) per example (default true) or one trainable softmax(α) for all examples. */
  perExample?: boolean;
  rng?: Rng;
  dtype?: DType;
}

/** The dense MMoE gate: every expert gets a positive weight, so none can be skipped. No regulariser. */
export class SoftmaxGate extends Gate {
  readonly kind = 'softmax';
  readonly numExperts: number;
  readonly perExample: boolean;
  readonly inputDim: number | null;
  private readonly logits: Linear | null;

  constructor(opts: SoftmaxGateOptions) {
    super();
    checkExpertCount('SoftmaxGate', opts.numExperts);
    this.numExperts = opts.numExperts;
    this.perExample = opts.perExample ?? true;
    this.inputDim = checkInputDim('SoftmaxGate', opts.inputDim, this.perExample);
    if (this.perExample) {
      this.logits = this.addModule('logits', new Linear(this.inputDim!, this.numExperts, { rng: opts.rng, dtype: opts.dtype }));
    } else {
      this.logits = null;
      this.addParameter('alpha', uniformInit(-0.05, 0.05)([this.numExperts], initContext(1, this.numExperts, opts)));
    }
  }

  forward(x: Tensor): GateOutput {
    const batch = this.checkInput(x);
    if (this.logits) return { weights: softmax(this.logits.forward(x), -1), regularization: null };
    const q = softmax(this.param('alpha'), -1);
    return { weights: expand(reshape(q, [1, this.numExperts]), [batch, this.numExperts]), regularization: null };
  }
}
