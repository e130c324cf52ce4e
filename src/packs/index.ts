import { adamUpdatePack } from './adam-update/index.js';
import { biasActivationPack } from './bias-activation/index.js';
import { convPoolReluPack } from './conv-pool-relu/index.js';
import { dselectPack } from './dselect/index.js';
import { expertMixturePack } from './expert-mixture/index.js';
import { layerNormPack } from './layer-norm/index.js';
import { normalCdfPack } from './normal-cdf/index.js';
import type { OpPack } from './pack.js';
import { scatterRowsPack } from './scatter-rows/index.js';
import { softmaxCrossEntropyPack } from './softmax-cross-entropy/index.js';

/** Every op pack, one line each: the core's setup registers them in this order. */
export const OP_PACKS: readonly OpPack[] = [biasActivationPack, expertMixturePack, adamUpdatePack, dselectPack, normalCdfPack, scatterRowsPack, layerNormPack, convPoolReluPack, softmaxCrossEntropyPack];

export type { OpPack } from './pack.js';
