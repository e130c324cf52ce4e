import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { tensor } from '../../tensor/creation.js';
import { normalCdf } from './op.js';

export const normalCdfGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'normalCdf, both tails and the middle',
    fn: (v) => normalCdf(v!),
    inputs: () => [tensor([-5.3, -4.4, -1.2, -0.3, 0, 0.7, 2.9, 4.5, 6.1], { dtype: 'float64' })],
  },
];
