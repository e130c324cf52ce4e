import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { normal, sampled } from '../../autograd/gradcheck-inputs.js';
import { scatterRows } from './op.js';

export const scatterRowsGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'scatterRows [3,4] to rows [4, 0, 2] of 5',
    fn: (src) => scatterRows(src!, Int32Array.from([4, 0, 2]), 5),
    inputs: sampled(801, normal([3, 4])),
  },
  {
    name: 'scatterRows [4,2,3] with a repeated row (sums)',
    fn: (src) => scatterRows(src!, Int32Array.from([1, 3, 1, 0]), 4),
    inputs: sampled(802, normal([4, 2, 3])),
  },
];
