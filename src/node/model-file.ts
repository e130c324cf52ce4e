import { buildFromArchitecture, describeArchitecture, type ModuleSpec } from '../moe/architecture.js';
import { Module } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import type { Optimizer, OptimizerState } from '../optim/optimizer.js';
import { SGD } from '../optim/sgd.js';
import { CheckpointError, readCheckpoint, saveCheckpoint } from './checkpoint.js';

/** What `saveModel` writes into the checkpoint's meta besides the caller's own meta. */
export interface ModelMeta {
  /** The architecture, enough to rebuild the model (see `describeArchitecture`). */
  architecture: ModuleSpec;
  /** Free-form JSON from `saveModel`'s `meta` option, or null. */
  user?: unknown;
}

export interface SaveModelOptions {
  /** Also save the optimiser's state (step counts, moments), so `loadModel` can continue training. */
  optimizer?: Optimizer;
  /** Any JSON to keep with the model (data scaling, feature names, …); `loadModel` returns it. */
  meta?: unknown;
}

export interface LoadedModel<M extends Module> {
  model: M;
  /** The optimiser rebuilt over `model` with its saved state, or null when none was saved. */
  optimizer: Optimizer | null;
  /** The `meta` given to `saveModel`, or null. */
  meta: unknown;
  architecture: ModuleSpec;
}

/**
 * Saves a model — its architecture and weights, and optionally its optimiser — as one checkpoint file
 * (the format of `saveCheckpoint`: written atomically, CRC-32 over the whole file). A path ending in
 * `.dsk` names the file; anything else is a folder that gets `checkpoint.dsk`. Returns the file's path.
 */
export function saveModel(path: string, model: Module, opts: SaveModelOptions = {}): string {
  if (!(model instanceof Module)) throw new Error(`saveModel: model must be a Module, got ${model === null ? 'null' : typeof model}`);
  const meta: ModelMeta = { architecture: describeArchitecture(model), user: opts.meta ?? null };
  return saveCheckpoint(path, { model, ...(opts.optimizer ? { optimizer: opts.optimizer } : {}), meta });
}

/**
 * Rebuilds a model saved by `saveModel` (or by `dselect-k train`) from its checkpoint alone: the
 * architecture, the weights, and the optimiser when one was saved. Pass the expected class to check
 * it and get it typed: `loadModel('runs/a', MMoE)`.
 */
export function loadModel<M extends Module = Module>(path: string, expected?: abstract new (...args: never[]) => M): LoadedModel<M> {
  const checkpoint = readCheckpoint(path);
  const architecture = (checkpoint.meta as Partial<ModelMeta> | null)?.architecture;
  if (architecture === undefined || architecture === null) {
    throw new CheckpointError(`loadModel: the checkpoint at ${path} holds weights but no architecture (it was not written by saveModel or dselect-k train); load it with loadCheckpoint into a model you build`);
  }
  const model = buildFromArchitecture(architecture);
  if (expected && !(model instanceof expected)) throw new Error(`loadModel: ${path} holds a ${model.constructor.name}, not a ${expected.name}`);
  try {
    model.loadStateDict(checkpoint.model);
  } catch (e) {
    throw new CheckpointError(`loadModel: the weights in ${path} do not fit its architecture: ${(e as Error).message}`);
  }
  const optimizer = checkpoint.optimizer ? optimizerFor(model, checkpoint.optimizer, path) : null;
  const meta = (checkpoint.meta as Partial<ModelMeta>).user ?? null;
  return { model: model as M, optimizer, meta, architecture };
}

function optimizerFor(model: Module, state: OptimizerState, path: string): Optimizer {
  const lr = typeof state.hyperparameters['lr'] === 'number' ? state.hyperparameters['lr'] : 1e-3;
  let optimizer: Optimizer;
  switch (state.type) {
    case 'Adam':
      optimizer = new Adam(model, { lr });
      break;
    case 'AdamW':
      optimizer = new AdamW(model, { lr });
      break;
    case 'SGD':
      optimizer = new SGD(model, { lr });
      break;
    default:
      throw new CheckpointError(`loadModel: ${path} holds the state of an optimiser '${state.type}' that loadModel cannot rebuild (Adam, AdamW, SGD); read it with readCheckpoint`);
  }
  optimizer.loadStateDict(state);
  return optimizer;
}
