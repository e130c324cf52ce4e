import { relu, sigmoid, softplus, tanh } from '../autograd/ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';

export type ActivationName = 'relu' | 'tanh' | 'sigmoid' | 'softplus' | 'identity';

const ACTIVATIONS: Record<ActivationName, (x: Tensor) => Tensor> = {
  relu,
  tanh,
  sigmoid,
  softplus,
  identity: (x) => x,
};

export const activationNames: readonly ActivationName[] = Object.keys(ACTIVATIONS) as ActivationName[];

/** The activation function for a name; unknown names are an error listing the known ones. */
export function activation(name: ActivationName): (x: Tensor) => Tensor {
  const fn = (ACTIVATIONS as Record<string, ((x: Tensor) => Tensor) | undefined>)[name];
  if (!fn) throw new Error(`activation: unknown activation '${String(name)}' (expected one of ${activationNames.join(', ')})`);
  return fn;
}
