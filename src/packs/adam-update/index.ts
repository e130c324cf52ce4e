import type { OpPack } from '../pack.js';
import { cpuAdamUpdate } from './cpu.js';
import { adamUpdateKernels } from './kernels.js';

export { adamStep, type AdamMoments } from './op.js';
export type { AdamUpdateArgs } from './kernels.js';

/** Not differentiable (an optimiser step): no recorded ops, so no gradient checks. */
export const adamUpdatePack: OpPack = {
  name: 'adam-update',
  ops: [],
  registerCpuKernels: () => adamUpdateKernels.register('cpu', cpuAdamUpdate),
};
