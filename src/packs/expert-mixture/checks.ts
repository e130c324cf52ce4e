import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { normal, sampled } from '../../autograd/gradcheck-inputs.js';
import type { Tensor } from '../../tensor/tensor.js';
import { mixRows } from './op.js';

export const expertMixtureGradcheckCases: readonly GradcheckCase[] = [
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
