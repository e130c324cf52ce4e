import { configureHeap } from '../src/kernels/cpu/heap.js';
import { fusionSuite } from './fusion-suite.js';
import { simdKernelSuite } from './simd-kernels-suite.js';

// Without a heap the SIMD kernels copy every operand into a private memory (which grows).
configureHeap({ enabled: false });
simdKernelSuite('off');
fusionSuite('off');
