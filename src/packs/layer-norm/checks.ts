import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { normal, sampled, uniform } from '../../autograd/gradcheck-inputs.js';
import type { Tensor } from '../../tensor/tensor.js';
import { layerNorm } from './op.js';

export const layerNormGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'layerNorm [4,5] over 5, affine',
    fn: (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, 5, 1e-5),
    inputs: sampled(801, normal([4, 5]), uniform([5], 0.5, 1.5), normal([5])),
  },
  {
    name: 'layerNorm [2,3,4] over the last two dims (12), affine [3,4], eps 1e-3',
    fn: (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, 12, 1e-3),
    inputs: sampled(802, normal([2, 3, 4], 2), normal([3, 4]), normal([3, 4])),
  },
  {
    name: 'layerNorm [3,7] over 7, no affine',
    fn: (x: Tensor) => layerNorm(x, null, null, 7, 1e-5),
    inputs: sampled(803, normal([3, 7])),
  },
];
