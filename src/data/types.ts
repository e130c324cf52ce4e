import type { Tensor } from '../tensor/tensor.js';

/** What every multi-task dataset looks like to the models and the command line. */
export type InputSpec =
  | { kind: 'vector'; shape: readonly [number] }
  | { kind: 'image'; shape: readonly [channels: number, height: number, width: number] };

export type TaskSpec =
  | { name: string; kind: 'regression' }
  | { name: string; kind: 'classification'; numClasses: number }
  /** One logit against 0/1 targets (binary cross-entropy). */
  | { name: string; kind: 'binary' };

export interface MultiTaskSplit {
  size: number;
  /** Inputs [size, ...input.shape]. */
  x: Tensor;
  /** Targets [size, numTasks]: values for regression tasks, class indices (stored as floats) for classification. */
  y: Tensor;
}

/** Per-task affine map applied to regression targets: stored = (raw − mean) / std. */
export interface TargetScaling {
  mean: number;
  std: number;
}

export interface MultiTaskData {
  name: string;
  description: string;
  input: InputSpec;
  tasks: readonly TaskSpec[];
  train: MultiTaskSplit;
  val: MultiTaskSplit;
  test: MultiTaskSplit;
  /** Ground-truth task → group map, when the dataset has one (scores expert selection). */
  taskGroups?: Int32Array;
  targetScaling?: readonly TargetScaling[];
  /** Names of the input features, when the data has them (a CSV header). */
  featureNames?: readonly string[];
  /** Per-feature affine map applied to the inputs: stored = (raw − mean) / std. */
  inputScaling?: readonly TargetScaling[];
}

/** Images with one class label each (the sources of the Multi-* builders), pixels in [0, 1]. */
export interface LabelledImages {
  name: string;
  images: Float32Array;
  shape: [count: number, height: number, width: number];
  labels: Int32Array;
  numClasses: number;
}
