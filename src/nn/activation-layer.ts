import type { Tensor } from '../tensor/tensor.js';
import { activation, type ActivationName } from './activation.js';
import { Module } from './module.js';

/** An activation function as a layer (for `Sequential`): `new Activation('relu')`. No parameters. */
export class Activation extends Module {
  readonly name: ActivationName;
  private readonly fn: (x: Tensor) => Tensor;

  constructor(name: ActivationName) {
    super();
    this.fn = activation(name);
    this.name = name;
  }

  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}
