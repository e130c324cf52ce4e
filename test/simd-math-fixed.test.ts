import { configureHeap } from '../src/kernels/cpu/heap.js';
import { fusionSuite } from './fusion-suite.js';
import { simdKernelSuite } from './simd-kernels-suite.js';

// The SIMD kernels on the fallback heap where SharedArrayBuffer is missing (non-shared, fixed size).
configureHeap({ shared: false });
simdKernelSuite('fixed');
fusionSuite('fixed');
