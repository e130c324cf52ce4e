import type { MultiTaskData } from '../data/types.js';
import { CnnExpert } from '../nn/cnn-expert.js';
import type { MMoEConfig } from '../moe/build-mmoe.js';
import { Rng } from '../tensor/random.js';

/** Width of the paper CNN expert's output (its last dense layer). */
export const CNN_EXPERT_OUTPUT = 50;

/**
 * The model settings an image dataset needs on top of the usual config: the paper's CNN experts
 * (conv 5×5×10, pool, conv 5×5×20, pool, dense 50, dense 50) instead of MLPs. The experts accept the
 * flattened rows [N, C·H·W] the gates see, so the data can stay flat. Empty for vector datasets.
 */
export function imageExpertOverrides(data: MultiTaskData, dtype?: MMoEConfig['dtype']): Pick<MMoEConfig, 'expertFactory' | 'expertOutputDim'> | Record<string, never> {
  if (data.input.kind !== 'image') return {};
  const [c, h, w] = data.input.shape;
  // Checked once here so that a too-small image is an error about the dataset, not about expert 0.
  void new CnnExpert({ inputShape: [c, h, w], rng: new Rng(0) });
  return {
    expertFactory: (_index, rng) => new CnnExpert({ inputShape: [c, h, w], rng, ...(dtype !== undefined ? { dtype } : {}) }),
    expertOutputDim: CNN_EXPERT_OUTPUT,
  };
}
