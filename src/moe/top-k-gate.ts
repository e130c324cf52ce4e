import { expand, reshape } from '../autograd/ops/shape.js';
import { initContext, uniformInit } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkExpertCount, checkInputDim, checkK, Gate, type GateOutput } from './gate.js';
import { topKSoftmax } from './top-k.js';

export interface TopKGateOptions {
  numExperts: number;
  /** Required when perExample (the default). */
  inputDim?: number;
  k: number;
  /** logits = W x + b per example (default true), or one trainable logit vector α for all examples (static). */
  perExample?: boolean;
  rng?: Rng;
  dtype?: DType;
}

/**
 * Top-k: keep the k largest logits, softmax over them, exact zeros elsewhere. No regulariser.
 * Per example the logits are W x + b; a static gate (one per task, like the static DSelect-k gate)
 * learns one logit vector α ~ U(−0.05, 0.05) shared by every example.
 */
export class TopKGate extends Gate {
  readonly kind = 'top-k';
  readonly numExperts: number;
  readonly k: number;
  readonly perExample: boolean;
  readonly inputDim: number | null;
  private readonly logits: Linear | null;

  constructor(opts: TopKGateOptions) {
    super();
    checkExpertCount('TopKGate', opts.numExperts);
    checkK('TopKGate', opts.k, opts.numExperts);
    this.perExample = opts.perExample ?? true;
    this.inputDim = checkInputDim('TopKGate', opts.inputDim, this.perExample);
    this.numExperts = opts.numExperts;
    this.k = opts.k;
    if (this.perExample) {
      this.logits = this.addModule('logits', new Linear(this.inputDim!, this.numExperts, { rng: opts.rng, dtype: opts.dtype }));
    } else {
      this.logits = null;
      this.addParameter('alpha', uniformInit(-0.05, 0.05)([this.numExperts], initContext(1, this.numExperts, opts)));
    }
  }

  forward(x: Tensor): GateOutput {
    const batch = this.checkInput(x);
    if (this.logits) return { weights: topKSoftmax(this.logits.forward(x), this.k).weights, regularization: null };
    const q = topKSoftmax(reshape(this.param('alpha'), [1, this.numExperts]), this.k).weights;
    return { weights: expand(q, [batch, this.numExperts]), regularization: null };
  }
}
