/** The functional core of DSelect-k: smooth-step, selectors, expert weights and the two regularisers. */
export { smoothStep, smoothStepDerivative } from './smooth-step.js';
export { selectorOutputs, selectorProducts } from './selector.js';
export { dselectKWeights, dselectKWeightsWithSelectors, type DSelectKOutputs } from './dselect-weights.js';
export { reachabilityPenalty, selectorEntropy, SELECTOR_ENTROPY_EPSILON, type RegularizerReduction } from './regularizers.js';
export { selectorBitCount } from './validate.js';
export { dselectGradcheckCases } from './checks.js';
