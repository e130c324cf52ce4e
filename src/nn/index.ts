export { Module, withParameters, type Layer, type LoadStateDictOptions, type StateDict } from './module.js';
export { ModuleList } from './module-list.js';
export {
  constantInit,
  glorotUniform,
  heUniform,
  initContext,
  uniformInit,
  zerosInit,
  type InitContext,
  type Initializer,
} from './init.js';
export { Linear, type LinearOptions } from './linear.js';
export { MLP, type MLPOptions } from './mlp.js';
export { activation, activationNames, type ActivationName } from './activation.js';
export { bceWithLogitsLoss, mseLoss, softmaxCrossEntropy, type Reduction } from './losses.js';
export {
  decodeTensors,
  encodeTensors,
  WEIGHTS_FORMAT,
  WEIGHTS_FORMAT_VERSION,
  type WeightsManifest,
  type WeightsManifestEntry,
} from './weights-format.js';
export { loadWeights, readWeights, saveWeights, weightsPaths, type WeightsPaths } from './weights-file.js';
export { Conv2d, convPoolRelu, Flatten, MaxPool2d, type Conv2dLayerOptions } from './conv2d.js';
export { CNN_EXPERT_DEFAULTS, CnnExpert, type CnnExpertOptions } from './cnn-expert.js';
