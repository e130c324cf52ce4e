import type { OpPack } from '../pack.js';
import { cpuExpertMixture } from './cpu.js';
import { expertMixtureKernels } from './kernels.js';

export { mixRows } from './op.js';

export const expertMixturePack: OpPack = {
  name: 'expert-mixture',
  ops: ['mixRows'],
  registerCpuKernels: () => expertMixtureKernels.register('cpu', cpuExpertMixture),
};
