import type { ActivationName } from '../nn/activation.js';
import { MLP } from '../nn/mlp.js';
import type { Layer } from '../nn/module.js';
import { assertPositiveInteger } from '../nn/validate.js';
import type { DType } from '../tensor/dtype.js';
import { getGlobalRng, Rng } from '../tensor/random.js';
import { createGate, type GateSpec } from './gate-factory.js';
import { MMoE } from './mmoe.js';

export interface MMoEConfig {
  /** Features per example (for image inputs: the flattened size the gates see). */
  inputDim: number;
  numTasks: number;
  numExperts: number;
  gate: GateSpec;
  /** Hidden widths of each MLP expert (default [64]). */
  expertHidden?: readonly number[];
  /** Width of each expert's output (default 32). */
  expertOutputDim?: number;
  /** Activation inside experts and on their output (default 'relu'). */
  expertActivation?: ActivationName;
  /** Hidden widths of each task tower (default []: a linear tower). */
  towerHidden?: readonly number[];
  /** Output width of each task's tower (default 1: regression / binary logit; C for C classes). */
  taskOutputDims?: number | readonly number[];
  /** Replaces the MLP experts (e.g. CNN experts for image inputs); must map x to [B, expertOutputDim]. */
  expertFactory?: (index: number, rng: Rng) => Layer;
  sparse?: boolean;
  /** Initialisation seed (or pass an rng); default: the global generator. */
  seed?: number;
  rng?: Rng;
  dtype?: DType;
}

/** An MMoE with MLP experts and towers and one gate per task, all from one config. */
export function buildMMoE(config: MMoEConfig): MMoE {
  const owner = 'buildMMoE';
  assertPositiveInteger(owner, 'inputDim', config.inputDim);
  assertPositiveInteger(owner, 'numTasks', config.numTasks);
  assertPositiveInteger(owner, 'numExperts', config.numExperts);
  const rng = config.rng ?? (config.seed !== undefined ? new Rng(config.seed) : getGlobalRng());
  const dtype = config.dtype;
  const expertOutputDim = config.expertOutputDim ?? 32;
  assertPositiveInteger(owner, 'expertOutputDim', expertOutputDim);
  const outDims = typeof config.taskOutputDims === 'number' || config.taskOutputDims === undefined
    ? new Array<number>(config.numTasks).fill(config.taskOutputDims ?? 1)
    : [...config.taskOutputDims];
  if (outDims.length !== config.numTasks) throw new Error(`${owner}: taskOutputDims has ${outDims.length} entries for ${config.numTasks} tasks`);
  outDims.forEach((d, t) => assertPositiveInteger(owner, `taskOutputDims[${t}]`, d));
  const activation = config.expertActivation ?? 'relu';

  const experts: Layer[] = [];
  for (let e = 0; e < config.numExperts; e++) {
    experts.push(
      config.expertFactory
        ? config.expertFactory(e, rng)
        : new MLP({ inputDim: config.inputDim, hidden: config.expertHidden ?? [64], outputDim: expertOutputDim, activation, outputActivation: activation, rng, dtype }),
    );
  }
  const gates = Array.from({ length: config.numTasks }, () =>
    createGate(config.gate, { numExperts: config.numExperts, inputDim: config.inputDim, rng, dtype }),
  );
  const towers = outDims.map((d) => new MLP({ inputDim: expertOutputDim, hidden: config.towerHidden ?? [], outputDim: d, activation: 'relu', rng, dtype }));
  return new MMoE({ experts, gates, towers, sparse: config.sparse });
}
