import type { OpPack } from '../pack.js';
import { cpuBiasActivation } from './cpu.js';
import { biasActivationKernels } from './kernels.js';

export { biasActivation } from './op.js';
export type { FusedActivation } from './kernels.js';

export const biasActivationPack: OpPack = {
  name: 'bias-activation',
  ops: ['biasActivation'],
  registerCpuKernels: () => biasActivationKernels.register('cpu', cpuBiasActivation),
};
