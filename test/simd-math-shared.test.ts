import { configureHeap } from '../src/kernels/cpu/heap.js';
import { simdKernelSuite } from './simd-kernels-suite.js';

// The SIMD kernels on a shared, growable heap.
configureHeap({ shared: true });
simdKernelSuite('shared');
