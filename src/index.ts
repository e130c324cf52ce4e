/**
 * dselect-k: Mixture-of-Experts with the DSelect-k gate on a self-contained autodiff engine.
 * This is the core entry: no Node built-in anywhere in its module graph, so it bundles for browsers.
 * File IO, dataset loaders and worker threads: `dselect-k/node`; the GPU.js backend: `dselect-k/gpu`;
 * the paper's experiments: `dselect-k/experiments`; tuning knobs and internals: `dselect-k/advanced`.
 */
import { setupCore } from './core-setup.js';

setupCore();

// Tensors
export { Tensor } from './tensor/tensor.js';
export type { DType, TypedArray } from './tensor/dtype.js';
export type { TensorFormatOptions } from './tensor/format.js';
export type { Shape } from './tensor/shape.js';
export { arange, eye, fromTypedArray, full, ones, rand, randn, tensor, zeros } from './tensor/creation.js';
export type { NestedArray, RandomOptions, TensorData, TensorDataOptions, TensorOptions } from './tensor/creation.js';
export { Rng, seed, type RngState } from './tensor/random.js';
export { keep, tidy } from './tensor/scope.js';

// Autograd and gradient checks
export { isGradEnabled, noGrad, type BackwardOptions } from './autograd/engine.js';
export { assertGradcheck, formatGradcheckReport, gradcheck } from './autograd/gradcheck.js';
export type { GradcheckCase, GradcheckMismatch, GradcheckOptions, GradcheckReport } from './autograd/gradcheck.js';

// Ops (each is also a Tensor method)
export { abs, add, cast, clamp, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne, neg, pow, reciprocal, relu, sigmoid, sign, softplus, sqrt, square, sub, tanh, where } from './autograd/ops/elementwise.js';
export { argmax, logsumexp, max, mean, min, sum, type Axis } from './autograd/ops/reduce.js';
export { matmul, type MatmulOptions } from './autograd/ops/matmul.js';
export { logSoftmax, softmax } from './autograd/ops/softmax.js';
export { concat, expand, gather, oneHot, permute, reshape, slice, squeeze, stack, transpose, unsqueeze } from './autograd/ops/shape.js';
export { conv2d, maxPool2d, type Conv2dOptions } from './autograd/ops/conv.js';
export { conv2dPoolRelu, type Conv2dPoolReluOptions } from './packs/conv-pool-relu/op.js';
export type { TensorLike } from './autograd/ops/util.js';

// Backends
export { getBackend, ready, setBackend, setBackendAsync, type BackendOptions } from './kernels/registry.js';
export type { BackendInfo, BackendName } from './kernels/backend.js';

// Layers, losses, optimisers
export { Module, type Layer, type LoadStateDictOptions, type StateDict } from './nn/module.js';
export { ModuleList } from './nn/module-list.js';
export { Linear, type LinearOptions } from './nn/linear.js';
export { MLP, type MLPOptions } from './nn/mlp.js';
export { Conv2d, Flatten, MaxPool2d, type Conv2dLayerOptions } from './nn/conv2d.js';
export { Sequential } from './nn/sequential.js';
export { Dropout, type DropoutOptions } from './nn/dropout.js';
export { LayerNorm, type LayerNormOptions } from './nn/layer-norm.js';
export { Embedding, type EmbeddingIndices, type EmbeddingOptions } from './nn/embedding.js';
export { summary, type SummaryOptions } from './nn/summary.js';
export { decodeSafetensors, encodeSafetensors, SafetensorsFormatError } from './nn/safetensors.js';
export { CNN_EXPERT_DEFAULTS, CnnExpert, type CnnExpertOptions } from './nn/cnn-expert.js';
export { activation, activationNames, type ActivationName } from './nn/activation.js';
export { Activation } from './nn/activation-layer.js';
export { bceWithLogitsLoss, mseLoss, softmaxCrossEntropy, type Reduction } from './nn/losses.js';
export { constantInit, glorotUniform, heUniform, uniformInit, zerosInit, type Initializer } from './nn/init.js';
export { Optimizer, type OptimizerState, type ParameterSource } from './optim/optimizer.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { Adam, AdamW, type AdamOptions } from './optim/adam.js';
export { cosineDecay, linearWarmup, LRScheduler, stepDecay, type LrInterval, type LrSchedule, type LrSchedulerState } from './optim/lr-scheduler.js';
export { clipGradNorm, clipGradValue } from './optim/clip.js';

// The DSelect-k functional core
export { smoothStep } from './packs/dselect/smooth-step.js';
export { selectorOutputs } from './packs/dselect/selector.js';
export { dselectKWeights, type DSelectKOutputs } from './packs/dselect/weights.js';
export { reachabilityPenalty, selectorEntropy, SELECTOR_ENTROPY_EPSILON, type RegularizerReduction } from './packs/dselect/regularizers.js';
export { selectorBitCount } from './packs/dselect/validate.js';

// Gates, MoE layers and multi-task models
export { Gate, type GateOutput } from './moe/gate.js';
export type { GateDiagnostics } from './moe/gate-diagnostics.js';
export { DSelectKGate, type DSelectKGateOptions } from './moe/dselect-gate.js';
export { SoftmaxGate, type SoftmaxGateOptions } from './moe/softmax-gate.js';
export { TopKGate, type TopKGateOptions } from './moe/top-k-gate.js';
export { NoisyTopKGate, type NoisyTopKGateOptions } from './moe/noisy-top-k-gate.js';
export { BalancedTopKGate, balanceModes, type BalanceMode, type BalancedTopKGateOptions, type Routing } from './moe/balanced-gate.js';
export { createGate, gateTypes, type GateContext, type GateSpec, type GateType } from './moe/gate-factory.js';
export { constantSchedule, entropyScheduleSpec, exponentialSchedule, linearWarmupSchedule, parseEntropySchedule, stepExponentialSchedule, stepWarmupSchedule, type EntropySchedule } from './moe/entropy-schedule.js';
export { MoE, type MoEOptions, type MoEOutput } from './moe/moe-layer.js';
export { MMoE, type MMoEOptions, type MultiTaskModel, type MultiTaskOutput } from './moe/mmoe.js';
export { buildMMoE, type MMoEConfig } from './moe/build-mmoe.js';
export { StackedMMoE, stackedStateFromMMoE, StackedTowers, type StackedMMoEConfig } from './moe/stacked-mmoe.js';
export { StaticGateBank, type StaticGateBankOptions, type StaticGateBankSpec } from './moe/static-gate-bank.js';
export { buildFromArchitecture, describeArchitecture, moduleTypeNames, registerModuleType, type ModuleSpec, type ModuleType } from './moe/architecture.js';
export { ConvBlock, ConvMoELayer, ConvMoENet, type ConvMoELayerOptions, type ConvMoELayerOutput, type ConvMoENetOptions, type GateInput } from './moe/conv-moe.js';
export { buildDamexNet, buildTopOneBalancedNet, DAMEX_DEFAULT_ROUTER_WEIGHT, fitDamex, routingSeparation, type DamexFitOptions, type DamexNetOptions, type RoutingSeparation } from './moe/damex.js';

// Training
export { fit, type AsyncBatchStream, type Batch, type BatchProgress, type BatchStream, type EarlyStoppingOptions, type EpochMetrics, type FitData, type FitOptions, type FitPosition, type FitResult } from './moe/train/fit.js';
export { evaluateAsync, fitAsync, type FitAsyncOptions } from './moe/train/fit-async.js';
export { evaluate, type EvaluateOptions, type EvaluationResult } from './moe/train/evaluate.js';
export { taskLossKinds, type TaskLossKind } from './moe/train/task-loss.js';
export type { MultiTaskBatchSource } from './moe/train/dataset.js';

// Data (built in memory; reading files is `dselect-k/node`)
export { generateSynthetic, SYNTHETIC_DEFAULTS, type SyntheticConfig, type SyntheticData } from './data/synthetic.js';
export type { InputSpec, LabelledImages, MultiTaskData, MultiTaskSplit, TargetScaling, TaskSpec } from './data/types.js';
export { buildMultiFashion, buildMultiMnist, multiTaskDataFromSplits, type MultiFashionOptions, type MultiMnistOptions, type MultiSplits } from './data/multi.js';
export { buildFashionMnistMixture, type DatasetMixture, type FashionMnistMixtureOptions } from './data/dataset-mixture.js';
