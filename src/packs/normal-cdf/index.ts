import type { OpPack } from '../pack.js';

export { normalCdf, normalCdfValue, normalPdfValue } from './op.js';

/** Computed on the host on every backend (a small [batch, experts] tensor of the noisy top-k gate). */
export const normalCdfPack: OpPack = { name: 'normal-cdf', ops: ['normalCdf'], registerCpuKernels: () => {} };
