import type { OpPack } from '../pack.js';
import { cpuLayerNorm } from './cpu.js';
import { layerNormKernels } from './kernels.js';

export { layerNorm } from './op.js';

export const layerNormPack: OpPack = {
  name: 'layer-norm',
  ops: ['layerNorm'],
  registerCpuKernels: () => layerNormKernels.register('cpu', cpuLayerNorm),
};
