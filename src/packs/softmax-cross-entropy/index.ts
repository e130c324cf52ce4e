import type { OpPack } from '../pack.js';
import { cpuSoftmaxCrossEntropy } from './cpu.js';
import { softmaxCrossEntropyKernels } from './kernels.js';

export { softmaxCrossEntropyRows } from './op.js';

export const softmaxCrossEntropyPack: OpPack = {
  name: 'softmax-cross-entropy',
  ops: ['softmaxCrossEntropyRows'],
  registerCpuKernels: () => softmaxCrossEntropyKernels.register('cpu', cpuSoftmaxCrossEntropy),
};
