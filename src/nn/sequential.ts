import type { Tensor } from '../tensor/tensor.js';
import { Module, type Layer } from './module.js';

/**
 * Layers applied one after another: y = f_n(…f_1(x)). Children are named `0`, `1`, … as in PyTorch, so
 * parameters read `0.weight`, `2.bias`. An empty Sequential is the identity.
 */
export class Sequential extends Module {
  readonly layers: readonly Layer[];

  constructor(layers: readonly Layer[]) {
    super();
    if (!Array.isArray(layers)) throw new Error(`Sequential: expected an array of layers, got ${layers === null ? 'null' : typeof layers}`);
    layers.forEach((layer, i) => {
      if (!(layer instanceof Module) || typeof (layer as { forward?: unknown }).forward !== 'function') {
        throw new Error(`Sequential: layer ${i} is not a Module with forward(x) (got ${describeValue(layer)})`);
      }
      this.addModule(String(i), layer);
    });
    this.layers = [...layers];
  }

  get length(): number {
    return this.layers.length;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h);
    return h;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
