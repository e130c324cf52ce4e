import { Linear } from '../nn/linear.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkExpertCount, checkInputDim, checkK, Gate, type GateOutput } from './gate.js';
import { topKSoftmax } from './top-k.js';

export interface TopKGateOptions {
  numExperts: number;
  inputDim: number;
  k: number;
  rng?: Rng;
  dtype?: DType;
}

/** Per example: logits = W x + b, keep the k largest, softmax over them, exact zeros elsewhere. No regulariser. */
export class TopKGate extends Gate {
  readonly kind = 'top-k';
  readonly numExperts: number;
  readonly k: number;
  readonly perExample = true;
  readonly inputDim: number;
  private readonly logits: Linear;

  constructor(opts: TopKGateOptions) {
    super();
    checkExpertCount('TopKGate', opts.numExperts);
    checkK('TopKGate', opts.k, opts.numExperts);
    this.inputDim = checkInputDim('TopKGate', opts.inputDim, true)!;
    this.numExperts = opts.numExperts;
    this.k = opts.k;
    this.logits = this.addModule('logits', new Linear(this.inputDim, this.numExperts, { rng: opts.rng, dtype: opts.dtype }));
  }

  forward(x: Tensor): GateOutput {
    this.checkInput(x);
    return { weights: topKSoftmax(this.logits.forward(x), this.k).weights, regularization: null };
  }
}
