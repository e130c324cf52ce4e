import type { OpPack } from '../pack.js';

export { scatterRows } from './op.js';

/** The backend's generic scatterAdd and gather kernels do the work. */
export const scatterRowsPack: OpPack = { name: 'scatter-rows', ops: ['scatterRows'], registerCpuKernels: () => {} };
