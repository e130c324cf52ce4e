import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '../../nn/module.js';
import { loadWeights, readWeights, saveWeights } from '../../nn/weights-file.js';
import type { Optimizer } from '../../optim/optimizer.js';

const CHECKPOINT_FORMAT = 'dselect-k-checkpoint';

/** What a checkpoint folder holds besides the tensors: free-form JSON (config, epoch, seed, …). */
export interface CheckpointContents {
  meta: unknown;
  /** Whether optimiser state was saved (and, on load, restored). */
  hasOptimizer: boolean;
}

/**
 * Writes model weights, optimiser state (optional) and `meta` into the folder `dir`:
 * `checkpoint.json`, `model.{json,bin}`, `optimizer.{json,bin}`. Everything is written to a sibling
 * temporary folder first and swapped in by renames, so an interrupted save never leaves a partial
 * checkpoint at `dir` (the previous one stays until the new one is complete).
 */
export function saveCheckpoint(dir: string, contents: { model: Module; optimizer?: Optimizer; meta?: unknown }): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    saveWeights(join(tmp, 'model.json'), contents.model);
    if (contents.optimizer) {
      const state = contents.optimizer.stateDict();
      saveWeights(join(tmp, 'optimizer.json'), state.slots, { type: state.type, hyperparameters: state.hyperparameters, steps: state.steps });
    }
    const header = { format: CHECKPOINT_FORMAT, version: 1, hasOptimizer: contents.optimizer !== undefined, meta: contents.meta ?? null };
    writeFileSync(join(tmp, 'checkpoint.json'), JSON.stringify(header, null, 2) + '\n');
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Restores a checkpoint written by `saveCheckpoint` into `model` (and `optimizer`, if given and saved). */
export function loadCheckpoint(dir: string, model: Module, optimizer?: Optimizer): CheckpointContents {
  const headerPath = join(dir, 'checkpoint.json');
  if (!existsSync(headerPath)) throw new Error(`loadCheckpoint: ${dir} is not a checkpoint (no checkpoint.json)`);
  let header: { format?: unknown; hasOptimizer?: unknown; meta?: unknown };
  try {
    header = JSON.parse(readFileSync(headerPath, 'utf8')) as typeof header;
  } catch (e) {
    throw new Error(`loadCheckpoint: ${headerPath} is not valid JSON (${(e as Error).message})`);
  }
  if (header?.format !== CHECKPOINT_FORMAT) throw new Error(`loadCheckpoint: ${headerPath} has format ${JSON.stringify(header?.format)}, expected '${CHECKPOINT_FORMAT}'`);
  const hasOptimizer = header.hasOptimizer === true;
  // Read everything before touching the model, so a broken optimiser file leaves the model unchanged.
  const optimizerFile = hasOptimizer && optimizer ? readWeights(join(dir, 'optimizer.json')) : null;
  loadWeights(join(dir, 'model.json'), model);
  if (optimizer && optimizerFile) {
    const meta = optimizerFile.meta as { type: string; hyperparameters: Record<string, number | boolean>; steps: number[] };
    optimizer.loadStateDict({ type: meta?.type, hyperparameters: meta?.hyperparameters ?? {}, steps: meta?.steps, slots: optimizerFile.tensors });
  }
  return { meta: header.meta ?? null, hasOptimizer: hasOptimizer && optimizer !== undefined };
}
