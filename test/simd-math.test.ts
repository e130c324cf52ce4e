import { fusionSuite } from './fusion-suite.js';
import { simdKernelSuite } from './simd-kernels-suite.js';

// The SIMD kernels on the default heap (shared, growable): operands in it are used in place.
simdKernelSuite('shared');
fusionSuite('shared');
