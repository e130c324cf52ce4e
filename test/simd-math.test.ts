import { simdKernelSuite } from './simd-kernels-suite.js';

// The SIMD kernels on the (default, shared) heap: operands in it are used in place.
simdKernelSuite('shared');
