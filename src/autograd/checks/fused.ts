import { fromTypedArray } from '../../tensor/creation.js';
import type { Rng } from '../../tensor/random.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../gradcheck.js';
import { add } from '../ops/elementwise.js';
import { biasActivation, mixRows } from '../ops/fused.js';
import { normal, sampled } from './sampling.js';

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

export const fusedGradcheckCases: readonly GradcheckCase[] = [
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
  {
    name: 'mixRows q [4,5], three [4,3] terms at columns 3, 0, 4',
    fn: (q: Tensor, a: Tensor, b: Tensor, c: Tensor) => mixRows(q, [a, b, c], [3, 0, 4]),
    inputs: sampled(705, normal([4, 5]), normal([4, 3]), normal([4, 3]), normal([4, 3])),
  },
  {
    name: 'mixRows q [3,2], two terms on the same column',
    fn: (q: Tensor, a: Tensor, b: Tensor) => mixRows(q, [a, b], [1, 1]),
    inputs: sampled(706, normal([3, 2]), normal([3, 4]), normal([3, 4])),
  },
  {
    name: 'mixRows q [5,3], terms on row subsets [4,0,2] and [1,3] plus all rows',
    fn: (q: Tensor, a: Tensor, b: Tensor, c: Tensor) =>
      mixRows(q, [a, b, c], [2, 0, 2], [Int32Array.from([4, 0, 2]), Int32Array.from([1, 3]), null]),
    inputs: sampled(707, normal([5, 3]), normal([3, 2]), normal([2, 2]), normal([5, 2])),
  },
];
