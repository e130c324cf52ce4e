import { fromTypedArray } from '../../tensor/creation.js';
import type { Rng } from '../../tensor/random.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { add } from '../../autograd/ops/elementwise.js';
import { biasActivation } from './op.js';
import { sampled } from '../../autograd/gradcheck-inputs.js';

/** x [..., C] and bias [C] with every x + bias at least 0.1 away from 0 (ReLU's kink). */
function clearOfKink(shape: Shape): (rng: Rng) => Tensor[] {
  return (rng) => {
    const cols = shape[shape.length - 1]!;
    const bias = Float64Array.from({ length: cols }, () => rng.normal());
    const x = new Float64Array(sizeOf(shape));
    for (let i = 0; i < x.length; i++) {
      let z = rng.normal();
      if (Math.abs(z) < 0.1) z = z >= 0 ? z + 0.1 : z - 0.1;
      x[i] = z - bias[i % cols]!;
    }
    return [fromTypedArray(x, [...shape]), fromTypedArray(bias, [cols])];
  };
}

export const biasActivationGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'biasActivation relu [4,5] + [5]',
    fn: (x: Tensor, b: Tensor) => biasActivation(x, b, 'relu'),
    inputs: sampled(701, clearOfKink([4, 5])),
  },
  {
    name: 'biasActivation relu [2,3,4] + [4]',
    fn: (x: Tensor, b: Tensor) => biasActivation(x, b, 'relu'),
    inputs: sampled(702, clearOfKink([2, 3, 4])),
  },
  {
    name: 'biasActivation identity [3,4] + [4]',
    fn: (x: Tensor, b: Tensor) => biasActivation(x, b, 'identity'),
    inputs: sampled(703, clearOfKink([3, 4])),
  },
  {
    name: 'biasActivation relu [6,2], no bias',
    fn: (x: Tensor, b: Tensor) => biasActivation(add(x, b), null, 'relu'),
    inputs: sampled(704, clearOfKink([6, 2])),
  },
];
