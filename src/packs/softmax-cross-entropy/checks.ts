import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { normal, sampled } from '../../autograd/gradcheck-inputs.js';
import { add } from '../../autograd/ops/elementwise.js';
import { mean, sum } from '../../autograd/ops/reduce.js';
import type { Tensor } from '../../tensor/tensor.js';
import { softmaxCrossEntropyRows } from './op.js';

/** Labels 0, 1, 2, … cycling over the classes (every class picked where rows allow). */
const cycling = (rows: number, cols: number): number[] => Array.from({ length: rows }, (_, r) => (3 * r + 1) % cols);

export const softmaxCrossEntropyGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'softmaxCrossEntropyRows [4,5] (per-row losses)',
    fn: (x: Tensor) => softmaxCrossEntropyRows(x, cycling(4, 5)),
    inputs: sampled(901, normal([4, 5], 2)),
  },
  {
    name: 'softmaxCrossEntropyRows [3,7], mean',
    fn: (x: Tensor) => mean(softmaxCrossEntropyRows(x, [6, 0, 3])),
    inputs: sampled(902, normal([3, 7], 3)),
  },
  {
    name: 'softmaxCrossEntropyRows [6,3], sum',
    fn: (x: Tensor) => sum(softmaxCrossEntropyRows(x, cycling(6, 3))),
    inputs: sampled(903, normal([6, 3])),
  },
  {
    name: 'softmaxCrossEntropyRows [2,13] of logits near +400, sum',
    fn: (x: Tensor) => sum(softmaxCrossEntropyRows(add(x, 400), [12, 5])),
    inputs: sampled(904, normal([2, 13])),
  },
  {
    name: 'softmaxCrossEntropyRows [1,1] (one class: loss 0, gradient 0), mean',
    fn: (x: Tensor) => mean(softmaxCrossEntropyRows(x, [0])),
    inputs: sampled(905, normal([1, 1])),
  },
];
