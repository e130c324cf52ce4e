import { Rng } from '../../tensor/random.js';
import { fromTypedArray } from '../../tensor/creation.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { col2im, conv2d, im2col, maxPool2d } from '../../autograd/ops/conv.js';
import type { Conv2dGeometry } from '../../kernels/backend.js';
import { seededInputs } from './shape.js';

/**
 * Inputs for max pooling with no near-ties: a shuffled ramp with steps of 0.1 plus a little noise,
 * so every window's maximum is unique by far more than the finite-difference step.
 */
function untiedInput(seed: number, shape: Shape): () => Tensor[] {
  return () => {
    const rng = new Rng(seed);
    const n = sizeOf(shape);
    const order = rng.permutation(n);
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = 0.1 * order[i]! - 0.05 * n + 0.01 * rng.uniform();
    return [fromTypedArray(data, shape)];
  };
}

const GEO_PAD1: Conv2dGeometry = { inputShape: [2, 2, 5, 4], kernelH: 3, kernelW: 2, stride: 1, padding: 1, outH: 5, outW: 5 };
const GEO_STRIDE2: Conv2dGeometry = { inputShape: [1, 2, 7, 6], kernelH: 3, kernelW: 3, stride: 2, padding: 0, outH: 3, outW: 2 };

export const convGradcheckCases: readonly GradcheckCase[] = [
  {
    name: 'conv2d stride 1 padding 0 with bias',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b),
    inputs: seededInputs(301, [2, 3, 6, 5], [4, 3, 3, 2], [4]),
  },
  {
    name: 'conv2d stride 1 padding 1 without bias',
    fn: (x: Tensor, w: Tensor) => conv2d(x, w, null, { padding: 1 }),
    inputs: seededInputs(302, [2, 2, 5, 5], [3, 2, 3, 3]),
  },
  {
    name: 'conv2d stride 2 padding 0 with bias',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b, { stride: 2 }),
    inputs: seededInputs(303, [1, 2, 7, 6], [3, 2, 3, 2], [3]),
  },
  {
    name: 'conv2d stride 2 padding 1 without bias',
    fn: (x: Tensor, w: Tensor) => conv2d(x, w, undefined, { stride: 2, padding: 1 }),
    inputs: seededInputs(304, [2, 1, 6, 7], [2, 1, 3, 3]),
  },
  {
    name: 'conv2d 1×1 kernel with bias',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b),
    inputs: seededInputs(305, [2, 3, 3, 4], [2, 3, 1, 1], [2]),
  },
  {
    name: 'conv2d kernel as large as the padded input',
    fn: (x: Tensor, w: Tensor, b: Tensor) => conv2d(x, w, b, { padding: 1 }),
    inputs: seededInputs(306, [1, 2, 3, 3], [2, 2, 5, 4], [2]),
  },
  { name: 'maxPool2d kernel 2 of [2,3,6,6]', fn: (x: Tensor) => maxPool2d(x, 2), inputs: untiedInput(311, [2, 3, 6, 6]) },
  { name: 'maxPool2d kernel 2 on odd sizes [1,2,5,7]', fn: (x: Tensor) => maxPool2d(x, 2), inputs: untiedInput(312, [1, 2, 5, 7]) },
  // Overlapping windows: one input element can be the maximum of several windows.
  { name: 'maxPool2d kernel 3 stride 2 of [1,2,7,7]', fn: (x: Tensor) => maxPool2d(x, 3, 2), inputs: untiedInput(313, [1, 2, 7, 7]) },
  { name: 'maxPool2d kernel 2 stride 1 of [2,1,4,5]', fn: (x: Tensor) => maxPool2d(x, 2, 1), inputs: untiedInput(314, [2, 1, 4, 5]) },
  // col2im (im2col's adjoint, the image gradient of conv2d) checked on its own; then the pair.
  {
    name: 'col2im 3×2 kernel, padding 1, into [2,2,5,4]',
    fn: (cols: Tensor) => col2im(cols, GEO_PAD1),
    inputs: seededInputs(316, [2, 2 * 3 * 2, GEO_PAD1.outH * GEO_PAD1.outW]),
  },
  {
    name: 'col2im 3×3 kernel, stride 2, into [1,2,7,6]',
    fn: (cols: Tensor) => col2im(cols, GEO_STRIDE2),
    inputs: seededInputs(317, [1, 2 * 3 * 3, GEO_STRIDE2.outH * GEO_STRIDE2.outW]),
  },
  { name: 'col2im of im2col (overlapping windows add)', fn: (x: Tensor) => col2im(im2col(x, GEO_PAD1), GEO_PAD1), inputs: seededInputs(318, [2, 2, 5, 4]) },
  {
    name: 'conv2d then maxPool2d',
    fn: (x: Tensor, w: Tensor) => maxPool2d(conv2d(x, w, null, { padding: 1 }), 2),
    inputs: seededInputs(315, [1, 2, 4, 4], [2, 2, 3, 3]),
  },
];
