import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { add } from '../../autograd/ops/elementwise.js';
import { logsumexp, max, mean, min, sum, sumSquares } from '../../autograd/ops/reduce.js';
import { logSoftmax, softmax } from '../../autograd/ops/softmax.js';
import { distinct, normal, sampled, type Sampler } from '../../autograd/gradcheck-inputs.js';

type Axis = number | number[] | undefined;

/** `name` over each (shape, axis, keepDims) in `plans`. */
function reductionCases(
  name: string,
  op: (x: Tensor, axis?: Axis, keepDims?: boolean) => Tensor,
  sample: (shape: number[]) => Sampler,
  seed: number,
  plans: readonly [number[], Axis, boolean][],
): GradcheckCase[] {
  return plans.map(([shape, axis, keepDims], i) => ({
    name: `${name} [${shape.join(',')}] axis ${axis === undefined ? 'all' : JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}`,
    fn: (x: Tensor) => op(x, axis, keepDims),
    inputs: sampled(seed + i, sample(shape)),
  }));
}

const PLANS: readonly [number[], Axis, boolean][] = [
  [[3, 4], undefined, false],
  [[3, 4], 0, false],
  [[2, 3, 4], -1, true],
  [[2, 3, 4], 1, false],
  [[2, 3, 4], [0, 2], false],
  [[2, 3, 4], [0, 1], true],
  [[5], 0, false],
  [[], undefined, false],
];

const normals = (shape: number[]) => normal(shape);
// Every element distinct (≥ 0.25 apart) so max/min have no ties.
const untied = (shape: number[]) => distinct([shape]);

export const reduceGradcheckCases: readonly GradcheckCase[] = [
  ...reductionCases('sum', sum, normals, 301, PLANS),
  ...reductionCases('mean', mean, normals, 311, PLANS),
  ...reductionCases('max', max, untied, 321, PLANS),
  ...reductionCases('min', min, untied, 331, PLANS),
  ...reductionCases('logsumexp', logsumexp, normals, 341, PLANS),
  { name: 'logsumexp of inputs near +500 [2,5] axis -1', fn: (x: Tensor) => logsumexp(add(x, 500), -1), inputs: sampled(351, normal([2, 5])) },
  { name: 'logsumexp of inputs near -500 [2,5] axis 0', fn: (x: Tensor) => logsumexp(add(x, -500), 0), inputs: sampled(352, normal([2, 5])) },
  { name: 'sumSquares [3,4]', fn: sumSquares, inputs: sampled(353, normal([3, 4])) },

  // softmax / logSoftmax over the last, first and a middle axis, and at large magnitudes.
  { name: 'softmax [2,5] axis -1', fn: (x: Tensor) => softmax(x), inputs: sampled(361, normal([2, 5])) },
  { name: 'softmax [3,4] axis 0', fn: (x: Tensor) => softmax(x, 0), inputs: sampled(362, normal([3, 4])) },
  { name: 'softmax [2,3,4] axis 1', fn: (x: Tensor) => softmax(x, 1), inputs: sampled(363, normal([2, 3, 4])) },
  { name: 'softmax [6] axis 0', fn: (x: Tensor) => softmax(x, 0), inputs: sampled(364, normal([6], 2)) },
  { name: 'softmax [1,4] of inputs near +800', fn: (x: Tensor) => softmax(add(x, 800)), inputs: sampled(365, normal([1, 4])) },
  { name: 'logSoftmax [2,5] axis -1', fn: (x: Tensor) => logSoftmax(x), inputs: sampled(371, normal([2, 5])) },
  { name: 'logSoftmax [3,4] axis 0', fn: (x: Tensor) => logSoftmax(x, 0), inputs: sampled(372, normal([3, 4])) },
  { name: 'logSoftmax [2,3,4] axis 1', fn: (x: Tensor) => logSoftmax(x, 1), inputs: sampled(373, normal([2, 3, 4])) },
  { name: 'logSoftmax [6] axis 0', fn: (x: Tensor) => logSoftmax(x, 0), inputs: sampled(374, normal([6], 2)) },
  { name: 'logSoftmax [1,4] of inputs near -800', fn: (x: Tensor) => logSoftmax(add(x, -800)), inputs: sampled(375, normal([1, 4])) },
];
