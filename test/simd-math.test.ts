import { simdKernelSuite } from './simd-kernels-suite.js';

// The SIMD kernels on the default heap (non-shared, fixed size): operands in it are used in place.
simdKernelSuite('fixed');
