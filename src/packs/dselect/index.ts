import type { OpPack } from '../pack.js';
import { cpuDSelect } from './cpu.js';
import { dselectKernels } from './kernels.js';

/** The functional core of DSelect-k: smooth-step, selectors, expert weights and the two regularisers. */
export { smoothStep, smoothStepDerivative } from './smooth-step.js';
export { selectorOutputs, selectorOutputsFor, selectorOrigin, selectorProducts, type SelectorOrigin } from './selector.js';
export { dselectKWeights, dselectKWeightsWithSelectors, type DSelectKOutputs } from './weights.js';
export { reachabilityPenalty, selectorEntropy, SELECTOR_ENTROPY_EPSILON, type RegularizerReduction } from './regularizers.js';
export { assertGamma, assertNumExperts, selectorBitCount } from './validate.js';

export const dselectPack: OpPack = {
  name: 'dselect',
  ops: ['smoothStep', 'selectorProducts', 'selectorEntropy', 'reachabilityPenalty'],
  registerCpuKernels: () => dselectKernels.register('cpu', cpuDSelect),
};
