import type { GradcheckCase } from '../autograd/gradcheck.js';
import { biasActivationGradcheckCases } from '../packs/bias-activation/checks.js';
import { convPoolReluGradcheckCases } from '../packs/conv-pool-relu/checks.js';
import { dselectGradcheckCases } from '../packs/dselect/checks.js';
import { expertMixtureGradcheckCases } from '../packs/expert-mixture/checks.js';
import { layerNormGradcheckCases } from '../packs/layer-norm/checks.js';
import { normalCdfGradcheckCases } from '../packs/normal-cdf/checks.js';
import { scatterRowsGradcheckCases } from '../packs/scatter-rows/checks.js';
import { softmaxCrossEntropyGradcheckCases } from '../packs/softmax-cross-entropy/checks.js';
import { cnnGradcheckCases } from './cnn.js';
import { engineGradcheckCases } from './engine/index.js';
import { modelGradcheckCases } from './models.js';

/**
 * Every float64 gradient check, by suite: the one list the `gradcheck` command and the tests run.
 * Nothing in the library imports this folder.
 */
export interface GradcheckSuite {
  name: string;
  cases: readonly GradcheckCase[];
}

/** Each op pack's cases, keyed by pack name (see src/packs/index.ts). */
export const PACK_GRADCHECK_CASES: Readonly<Record<string, readonly GradcheckCase[]>> = {
  'bias-activation': biasActivationGradcheckCases,
  'expert-mixture': expertMixtureGradcheckCases,
  'adam-update': [],
  dselect: dselectGradcheckCases,
  'normal-cdf': normalCdfGradcheckCases,
  'scatter-rows': scatterRowsGradcheckCases,
  'conv-pool-relu': convPoolReluGradcheckCases,
  'layer-norm': layerNormGradcheckCases,
  'softmax-cross-entropy': softmaxCrossEntropyGradcheckCases,
};

/**
 * The case list each differentiable op must be exercised by (`DifferentiableOp.owner`): the engine
 * suite for the generic ops, the pack's own list for a pack's ops.
 */
export function gradcheckCasesByOwner(): Readonly<Record<string, readonly GradcheckCase[]>> {
  return { engine: engineGradcheckCases, ...PACK_GRADCHECK_CASES };
}

export function gradcheckSuites(): GradcheckSuite[] {
  return [
    { name: 'engine', cases: engineGradcheckCases },
    { name: 'packs', cases: Object.entries(PACK_GRADCHECK_CASES).flatMap(([pack, cases]) => (pack === 'dselect' ? [] : cases)) },
    { name: 'dselect-k', cases: dselectGradcheckCases },
    { name: 'models', cases: modelGradcheckCases },
    { name: 'cnn', cases: cnnGradcheckCases },
  ];
}

export { cnnGradcheckCases, dselectGradcheckCases, engineGradcheckCases, modelGradcheckCases };
