import type { OpPack } from '../pack.js';
import { cpuConvPoolRelu } from './cpu.js';
import { convPoolReluKernels } from './kernels.js';
import { CONV_POOL_OPS } from './op.js';

export { conv2dPoolRelu, type Conv2dPoolReluOptions } from './op.js';

/**
 * conv → max-pool → bias → ReLU in one op. Its WebAssembly SIMD kernels are assembled in the cpu
 * backend's conv module (src/kernels/cpu/wasm/conv-*.ts), which also holds the generic im2col/col2im
 * and pooling kernels: one memory and one worker pool for all conv work.
 */
export const convPoolReluPack: OpPack = {
  name: 'conv-pool-relu',
  ops: CONV_POOL_OPS,
  registerCpuKernels: () => convPoolReluKernels.register('cpu', cpuConvPoolRelu),
};
