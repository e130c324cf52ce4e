/**
 * dselect-k/advanced: tuning knobs and internals — kernel settings, the raw backend and kernel
 * registries, storage, the fused ops of the op packs, and the building blocks of the gates. Stable
 * enough to use, but closer to the engine than `dselect-k`.
 */
import { setupCore } from './core-setup.js';

setupCore();

// Kernel settings and threads
export { configureMatmul, matmulInfo, type MatmulInfo, type MatmulKernelChoice, type MatmulSettings } from './kernels/cpu/matmul-config.js';
export { configureBufferPool, type BufferPoolOptions } from './kernels/cpu/host.js';
export { configureFusedKernels, type FusedKernelOptions } from './kernels/cpu/wasm/kernel-module.js';
export { configureHeap, type HeapInfo, type HeapOptions } from './kernels/cpu/heap.js';
export { configureSimdKernels, type SimdKernelOptions } from './kernels/cpu/simd.js';
export { configureFusion, type FusionInfo, type FusionOptions } from './kernels/cpu/fusion.js';
export { shutdownGemmWorkers } from './kernels/cpu/gemm-wasm.js';
export { shutdownConvWorkers } from './kernels/cpu/conv-wasm-runtime.js';
export { setWorkerSpawner, type WorkerHandle, type WorkerSpawner } from './kernels/cpu/threads/spawner.js';

// Backends, kernels and storage
export { backend, noticeOnce, registerBackend, setBackendNotices } from './kernels/registry.js';
export type { Backend, BinaryOp, Conv2dGeometry, MatmulArgs, PoolGeometry, ReduceOp, UnaryOp } from './kernels/backend.js';
export { PackKernels } from './kernels/pack-kernels.js';
export { HostStorage, type Storage } from './tensor/storage.js';
export type { GradNode } from './tensor/tensor.js';
export { getGlobalRng } from './tensor/random.js';
export { recordOp, sumToShape, type BackwardFn } from './autograd/engine.js';
export { storageOf } from './autograd/ops/util.js';
export { sumSquares } from './autograd/ops/reduce.js';

// Op packs and their ops
export { OP_PACKS, type OpPack } from './packs/index.js';
export { biasActivation, type FusedActivation } from './packs/bias-activation/index.js';
export { mixRows } from './packs/expert-mixture/index.js';
export { adamStep, type AdamMoments, type AdamUpdateArgs } from './packs/adam-update/index.js';
export { normalCdf, normalCdfValue, normalPdfValue } from './packs/normal-cdf/index.js';
export { scatterRows } from './packs/scatter-rows/index.js';
export { layerNorm } from './packs/layer-norm/index.js';
export { softmaxCrossEntropyRows } from './packs/softmax-cross-entropy/index.js';
export { dselectKWeightsWithSelectors, selectorOrigin, selectorProducts, smoothStepDerivative, type SelectorOrigin } from './packs/dselect/index.js';

// Layers' and gates' building blocks
export { withParameters } from './nn/module.js';
export { initContext, type InitContext } from './nn/init.js';
export { convPoolRelu } from './nn/conv2d.js';
export { checkWeightsManifest, decodeTensors, encodeTensors, WEIGHTS_FORMAT, WeightsFormatError, WEIGHTS_FORMAT_VERSION, type WeightsManifest, type WeightsManifestEntry } from './nn/weights-format.js';
export { GATE_WEIGHT_TOLERANCE, summarizeGateWeights } from './moe/gate-diagnostics.js';
export { rowTopIndices, topKSoftmax } from './moe/top-k.js';
export { cvSquared, loadBalancingLoss } from './moe/load-balance.js';
export { mixExperts } from './moe/expert-mixture.js';
export { assignmentMask, assignWithCapacity, expertCapacity, rankRows, type CapacityAssignment } from './moe/capacity.js';
export { damexTargets, defaultExpertOfDataset } from './moe/damex.js';
export { taskAccuracy, taskLoss } from './moe/train/task-loss.js';

// Data building blocks
export { syntheticResponse } from './data/synthetic.js';
export { buildMultiPairs, DEFAULT_MULTI_PAIR_COUNTS, gatherMultiBatch, MULTI_BOTTOM_RIGHT_OFFSET, MULTI_CANVAS_SIDE, MULTI_SOURCE_SIDE, multiImagesTensor, overlayPair, type MultiImageSet, type MultiPairCounts } from './data/multi.js';
export { mixtureSubset, type MixtureSplit } from './data/dataset-mixture.js';
