export * from './core.js';
export { Gate, type GateOutput } from './gate.js';
export { GATE_WEIGHT_TOLERANCE, summarizeGateWeights, type GateDiagnostics } from './gate-diagnostics.js';
export { DSelectKGate, type DSelectKGateOptions } from './dselect-gate.js';
export { SoftmaxGate, type SoftmaxGateOptions } from './softmax-gate.js';
export { TopKGate, type TopKGateOptions } from './top-k-gate.js';
export { NoisyTopKGate, type NoisyTopKGateOptions } from './noisy-top-k-gate.js';
export { rowTopIndices, topKSoftmax } from './top-k.js';
export { cvSquared, loadBalancingLoss } from './load-balance.js';
export { normalCdf, normalCdfValue, normalPdfValue } from './normal-cdf.js';
export {
  constantSchedule,
  exponentialSchedule,
  linearWarmupSchedule,
  parseEntropySchedule,
  type EntropySchedule,
} from './entropy-schedule.js';
export { scatterRows } from './scatter-rows.js';
export { mixExperts } from './expert-mixture.js';
export { MoE, type MoEOptions, type MoEOutput } from './moe-layer.js';
export { MMoE, type MMoEOptions, type MultiTaskModel, type MultiTaskOutput } from './mmoe.js';
export { createGate, gateTypes, type GateContext, type GateSpec, type GateType } from './gate-factory.js';
export { buildMMoE, type MMoEConfig } from './build-mmoe.js';
export { taskLossKinds, taskLoss, taskAccuracy, type TaskLossKind } from './train/task-loss.js';
export { type MultiTaskBatchSource } from './train/dataset.js';
export { evaluate, type EvaluateOptions, type EvaluationResult } from './train/evaluate.js';
export { fit, type BatchProgress, type EarlyStoppingOptions, type EpochMetrics, type FitOptions, type FitResult } from './train/fit.js';
export { modelGradcheckCases } from './model-checks.js';
export { loadCheckpoint, saveCheckpoint, type CheckpointContents } from './train/checkpoint.js';
export { assignmentMask, assignWithCapacity, expertCapacity, rankRows, type CapacityAssignment } from './capacity.js';
export { BalancedTopKGate, balanceModes, type BalanceMode, type BalancedTopKGateOptions, type Routing } from './balanced-gate.js';
export { ConvBlock, ConvMoELayer, ConvMoENet, type ConvMoELayerOptions, type ConvMoELayerOutput, type ConvMoENetOptions, type GateInput } from './conv-moe.js';
export {
  buildDamexNet,
  buildTopOneBalancedNet,
  DAMEX_DEFAULT_ROUTER_WEIGHT,
  damexTargets,
  defaultExpertOfDataset,
  fitDamex,
  routingSeparation,
  type DamexFitOptions,
  type DamexNetOptions,
  type RoutingSeparation,
} from './damex.js';
export { cnnGradcheckCases } from './cnn-checks.js';
