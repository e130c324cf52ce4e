import { assertTaskLossKind, type TaskLossKind } from './task-loss.js';

/** Each task's loss kind and weight in the objective Σ_t w_t · L_t. */
export interface LossSetup {
  losses: TaskLossKind[];
  weights: number[];
}

export function resolveLossSetup(
  owner: string,
  numTasks: number,
  losses: TaskLossKind | readonly TaskLossKind[] | undefined,
  taskWeights: readonly number[] | undefined,
): LossSetup {
  const kinds = losses === undefined ? new Array<TaskLossKind>(numTasks).fill('mse') : typeof losses === 'string' ? new Array<TaskLossKind>(numTasks).fill(losses) : [...losses];
  if (kinds.length !== numTasks) throw new Error(`${owner}: ${kinds.length} losses given for ${numTasks} tasks`);
  kinds.forEach((k, t) => assertTaskLossKind(owner, k, t));
  const weights = taskWeights === undefined ? new Array<number>(numTasks).fill(1) : [...taskWeights];
  if (weights.length !== numTasks) throw new Error(`${owner}: ${weights.length} task weights given for ${numTasks} tasks`);
  weights.forEach((w, t) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new Error(`${owner}: task weight ${t} must be a finite number ≥ 0, got ${String(w)}`);
  });
  return { losses: kinds, weights };
}
