import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { activation, type ActivationName } from './activation.js';
import { glorotUniform, heUniform } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { ModuleList } from './module-list.js';
import { assertPositiveInteger } from './validate.js';

export interface MLPOptions {
  inputDim: number;
  /** Widths of the hidden layers (may be empty: then the MLP is one Linear layer). */
  hidden: readonly number[];
  outputDim: number;
  /** Applied after every hidden layer (default 'relu'). */
  activation?: ActivationName;
  /** Applied after the last layer (default 'identity'). */
  outputActivation?: ActivationName;
  rng?: Rng;
  dtype?: DType;
}

/** Dense layers with an activation between them: inputDim → hidden… → outputDim. */
export class MLP extends Module {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly layers: ModuleList<Linear>;
  /** Applied after every hidden layer. */
  readonly activation: ActivationName;
  /** Applied after the last layer. */
  readonly outputActivation: ActivationName;

  constructor(opts: MLPOptions) {
    super();
    assertPositiveInteger('MLP', 'inputDim', opts.inputDim);
    assertPositiveInteger('MLP', 'outputDim', opts.outputDim);
    if (!Array.isArray(opts.hidden)) throw new Error(`MLP: hidden must be an array of layer widths, got ${String(opts.hidden)}`);
    opts.hidden.forEach((h, i) => assertPositiveInteger('MLP', `hidden[${i}]`, h));
    const actName = opts.activation ?? 'relu';
    // Looked up now so an unknown name fails at construction.
    activation(actName);
    activation(opts.outputActivation ?? 'identity');
    this.activation = actName;
    this.outputActivation = opts.outputActivation ?? 'identity';
    this.inputDim = opts.inputDim;
    this.outputDim = opts.outputDim;
    const widths = [opts.inputDim, ...opts.hidden, opts.outputDim];
    const linears: Linear[] = [];
    for (let i = 0; i + 1 < widths.length; i++) {
      const last = i + 2 === widths.length;
      const weightInit = !last && actName === 'relu' ? heUniform : glorotUniform;
      linears.push(new Linear(widths[i]!, widths[i + 1]!, { weightInit, rng: opts.rng, dtype: opts.dtype }));
    }
    this.layers = this.addModule('layers', new ModuleList(linears));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    const n = this.layers.length;
    this.layers.items.forEach((layer, i) => {
      h = layer.forwardActivated(h, i + 1 < n ? this.activation : this.outputActivation);
    });
    return h;
  }
}
