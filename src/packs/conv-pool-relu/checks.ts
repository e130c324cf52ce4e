import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { normal, sampled } from '../../autograd/gradcheck-inputs.js';
import type { Tensor } from '../../tensor/tensor.js';
import { conv2dPoolRelu } from './op.js';

/** float64 runs the JS kernels, the reference the SIMD ones are compared with (test/conv-pool.test.ts). */
export const convPoolReluGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'conv2dPoolRelu 3×3, pool 2, with bias',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2dPoolRelu(x, w, b),
    inputs: sampled(321, normal([2, 3, 7, 6]), normal([4, 3, 3, 3]), normal([4])),
  },
  {
    name: 'conv2dPoolRelu 2×3, padding 1, pool 2, no bias, odd sizes',
    fn: (x: Tensor, w: Tensor) => conv2dPoolRelu(x, w, null, { padding: 1 }),
    inputs: sampled(322, normal([1, 2, 6, 7]), normal([3, 2, 2, 3])),
  },
  {
    name: 'conv2dPoolRelu stride 2, pool 3, with bias',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2dPoolRelu(x, w, b, { stride: 2, pool: 3 }),
    inputs: sampled(323, normal([2, 2, 13, 14]), normal([3, 2, 3, 3]), normal([3])),
  },
  {
    name: 'conv2dPoolRelu grouped (2 groups of 2→3), 3×3, pool 2, with bias',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2dPoolRelu(x, w, b, { groups: 2 }),
    inputs: sampled(324, normal([2, 4, 7, 8]), normal([6, 2, 3, 3]), normal([6])),
  },
  {
    name: 'conv2dPoolRelu grouped (3 groups of 1→2), 2×2, padding 1, no bias',
    fn: (x: Tensor, w: Tensor) => conv2dPoolRelu(x, w, null, { groups: 3, padding: 1 }),
    inputs: sampled(325, normal([1, 3, 5, 6]), normal([6, 1, 2, 2])),
  },
];
