import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { matmul, type MatmulOptions } from '../../autograd/ops/matmul.js';
import { normal, sampled } from '../../autograd/gradcheck-inputs.js';

function matmulCase(seed: number, aShape: number[], bShape: number[], opts: MatmulOptions = {}): GradcheckCase {
  const t = (flag: boolean | undefined): string => (flag ? 'ᵀ' : '');
  return {
    name: `matmul [${aShape.join(',')}]${t(opts.transA)} @ [${bShape.join(',')}]${t(opts.transB)}`,
    fn: (a: Tensor, b: Tensor) => matmul(a, b, opts),
    inputs: sampled(seed, normal(aShape), normal(bShape)),
  };
}

export const matmulGradcheckCases: readonly GradcheckCase[] = [
  matmulCase(401, [3, 4], [4, 5]),
  matmulCase(402, [1, 1], [1, 1]),
  matmulCase(403, [2, 3, 4], [4, 5]),
  matmulCase(404, [3, 4], [2, 4, 5]),
  matmulCase(405, [2, 1, 3, 4], [3, 4, 2]),
  matmulCase(406, [2, 3, 4], [2, 4, 2]),
  // 1-D operands are promoted (NumPy rules) and the extra dim removed again.
  matmulCase(407, [4], [4, 5]),
  matmulCase(408, [3, 4], [4]),
  matmulCase(409, [4], [4]),
  matmulCase(410, [4], [2, 4, 3]),
  // Transposed operands read in place.
  matmulCase(411, [4, 3], [4, 5], { transA: true }),
  matmulCase(412, [3, 4], [5, 4], { transB: true }),
  matmulCase(413, [4, 3], [5, 4], { transA: true, transB: true }),
  matmulCase(414, [2, 4, 3], [4, 5], { transA: true }),
  matmulCase(415, [2, 3, 4], [2, 5, 4], { transB: true }),
  matmulCase(416, [4], [5, 4], { transB: true }),
  matmulCase(417, [4], [4, 3], { transA: true }),
  {
    name: 'matmul x @ xᵀ (same input on both sides)',
    fn: (x: Tensor) => matmul(x, x, { transB: true }),
    inputs: sampled(418, normal([3, 4])),
  },
  {
    name: 'matmul chain [2,3] @ [3,4] @ [4,2]',
    fn: (a: Tensor, b: Tensor, c: Tensor) => matmul(matmul(a, b), c),
    inputs: sampled(419, normal([2, 3]), normal([3, 4]), normal([4, 2])),
  },
];
