import { randn } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import type { Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { mul } from '../../autograd/ops/elementwise.js';
import { concat, expand, gather, oneHot, padTo, permute, reshape, scatterAdd, slice, squeeze, stack, transpose, unsqueeze } from '../../autograd/ops/shape.js';

/** Fresh float64 normals from a fixed seed, so every case is reproducible. */
export function seededInputs(seed: number, ...shapes: Shape[]): () => Tensor[] {
  return () => {
    const rng = new Rng(seed);
    return shapes.map((s) => randn(s, { dtype: 'float64', rng }));
  };
}

export const shapeGradcheckCases: readonly GradcheckCase[] = [
  { name: 'transpose (default) [2,3,4]', fn: (x: Tensor) => transpose(x), inputs: seededInputs(201, [2, 3, 4]) },
  { name: 'transpose [3,5]', fn: (x: Tensor) => transpose(x), inputs: seededInputs(202, [3, 5]) },
  { name: 'transpose with perm [1,0,2] of [3,2,4]', fn: (x: Tensor) => transpose(x, [1, 0, 2]), inputs: seededInputs(203, [3, 2, 4]) },
  { name: 'permute [2,0,3,1] of [2,3,4,5]', fn: (x: Tensor) => permute(x, [2, 0, 3, 1]), inputs: seededInputs(204, [2, 3, 4, 5]) },
  { name: 'permute negative axes [-1,0,1] of [3,4,2]', fn: (x: Tensor) => permute(x, [-1, 0, 1]), inputs: seededInputs(205, [3, 4, 2]) },
  // Larger than one 32×32 tile so the tiled transpose path and its edges are exercised.
  { name: 'permute last two dims of [2,33,34] (tiled)', fn: (x: Tensor) => permute(x, [0, 2, 1]), inputs: seededInputs(206, [2, 33, 34]) },
  { name: 'squeeze all of [1,3,1,2]', fn: (x: Tensor) => squeeze(x), inputs: seededInputs(207, [1, 3, 1, 2]) },
  { name: 'squeeze axis -2 of [3,1,2]', fn: (x: Tensor) => squeeze(x, -2), inputs: seededInputs(208, [3, 1, 2]) },
  { name: 'unsqueeze axis -1 then permute', fn: (x: Tensor) => permute(unsqueeze(x, -1), [2, 0, 1]), inputs: seededInputs(209, [3, 4]) },
  { name: 'unsqueeze axis 0 of [4] times itself', fn: (x: Tensor) => mul(unsqueeze(x, 0), unsqueeze(x, 1)), inputs: seededInputs(210, [4]) },
  {
    name: 'concat 3 inputs along axis 0',
    fn: (a: Tensor, b: Tensor, c: Tensor) => concat([a, b, c], 0),
    inputs: seededInputs(211, [1, 3, 2], [2, 3, 2], [3, 3, 2]),
  },
  {
    name: 'concat 3 inputs along axis 1',
    fn: (a: Tensor, b: Tensor, c: Tensor) => concat([a, b, c], 1),
    inputs: seededInputs(212, [2, 1, 3], [2, 4, 3], [2, 2, 3]),
  },
  {
    name: 'concat 2 inputs along axis -1',
    fn: (a: Tensor, b: Tensor) => concat([a, b], -1),
    inputs: seededInputs(213, [2, 3, 2], [2, 3, 5]),
  },
  {
    name: 'concat with the same tensor twice (gradients add)',
    fn: (a: Tensor, b: Tensor) => mul(concat([a, b, a], 1), concat([b, a, b], 1)),
    inputs: seededInputs(214, [3, 2], [3, 2]),
  },
  {
    name: 'stack 3 inputs along axis 0',
    fn: (a: Tensor, b: Tensor, c: Tensor) => stack([a, b, c]),
    inputs: seededInputs(215, [2, 3], [2, 3], [2, 3]),
  },
  {
    name: 'stack 2 inputs along axis -1',
    fn: (a: Tensor, b: Tensor) => stack([a, b], -1),
    inputs: seededInputs(216, [3, 2, 2], [3, 2, 2]),
  },
  { name: 'slice interior box of [4,5,3]', fn: (x: Tensor) => slice(x, [1, 2, 0], [2, 2, 2]), inputs: seededInputs(217, [4, 5, 3]) },
  { name: 'slice size -1 (to the end) of [4,5]', fn: (x: Tensor) => slice(x, [1, 3], [-1, -1]), inputs: seededInputs(218, [4, 5]) },
  { name: 'slice leading dim only of [5,2,3]', fn: (x: Tensor) => slice(x, [2], [2]), inputs: seededInputs(219, [5, 2, 3]) },
  {
    name: 'slices of one tensor multiplied (gradients add)',
    fn: (x: Tensor) => mul(slice(x, [0, 0], [3, 2]), slice(x, [1, 1], [3, 2])),
    inputs: seededInputs(220, [4, 3]),
  },
  { name: 'gather axis 0 with repeated indices', fn: (x: Tensor) => gather(x, [2, 0, 2, 2], 0), inputs: seededInputs(221, [3, 4]) },
  { name: 'gather axis 1 of [3,5]', fn: (x: Tensor) => gather(x, Int32Array.from([4, 1, 1]), 1), inputs: seededInputs(222, [3, 5]) },
  { name: 'gather axis -1 of [2,3,4]', fn: (x: Tensor) => gather(x, [3, 0, 3, 2, 3], -1), inputs: seededInputs(223, [2, 3, 4]) },
  { name: 'gather axis 1 of [2,4,3] (runs)', fn: (x: Tensor) => gather(x, [1, 1, 3], 1), inputs: seededInputs(224, [2, 4, 3]) },
  { name: 'reshape [2,3,4] → [4,-1]', fn: (x: Tensor) => reshape(x, [4, -1]), inputs: seededInputs(226, [2, 3, 4]) },
  { name: 'expand [3,1] → [2,3,4]', fn: (x: Tensor) => expand(x, [2, 3, 4]), inputs: seededInputs(227, [3, 1]) },
  { name: 'expand 0-d → [2,2] times itself', fn: (x: Tensor) => mul(expand(x, [2, 2]), expand(x, [2, 2])), inputs: seededInputs(228, []) },
  // pad and scatterAdd are the adjoints of slice and gather (recorded so that they differentiate back).
  { name: 'padTo [2,3,2] at [1,0,2] in [4,3,5]', fn: (x: Tensor) => padTo(x, [1, 0, 2], [4, 3, 5]), inputs: seededInputs(229, [2, 3, 2]) },
  { name: 'scatterAdd [3,3] to rows [2,0,2] of 4 (repeats add)', fn: (x: Tensor) => scatterAdd(x, Int32Array.from([2, 0, 2]), 0, [4, 3]), inputs: seededInputs(230, [3, 3]) },
  { name: 'scatterAdd [2,4] to columns [1,4,1,0] of 5', fn: (x: Tensor) => scatterAdd(x, Int32Array.from([1, 4, 1, 0]), 1, [2, 5]), inputs: seededInputs(231, [2, 4]) },
  {
    name: 'oneHot mask (constant) times x',
    fn: (x: Tensor) => mul(x, oneHot([2, 0, 1, 2], 3, 'float64')),
    inputs: seededInputs(225, [4, 3]),
  },
];
