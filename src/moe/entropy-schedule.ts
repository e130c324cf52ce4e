/**
 * The entropy weight λ as a function of training progress: `schedule(index, baseWeight)`, where index
 * is the 0-based epoch (unit 'epoch', the default) or the 0-based training step counted over the whole
 * run (unit 'step', as the official implementation's EntropyRegularizer, whose schedule_fn reads a
 * counter advanced once per training call). `fit` applies epoch schedules at each epoch start and step
 * schedules before each step.
 */
export interface EntropySchedule {
  (index: number, baseWeight: number): number;
  readonly unit?: 'epoch' | 'step';
}

/** The text form of a built-in schedule ('constant', 'warmup:E', 'exp:F', 'warmup-steps:S', 'exp-steps:F'), kept on the function so models can be saved. */
const SPEC = Symbol('entropy schedule spec');

function withSpec(fn: EntropySchedule, spec: string): EntropySchedule {
  return Object.assign(fn, { [SPEC]: spec });
}

/** The `parseEntropySchedule` text of a built-in schedule, or null for a hand-written function. */
export function entropyScheduleSpec(schedule: EntropySchedule): string | null {
  const spec = (schedule as EntropySchedule & { [SPEC]?: string })[SPEC];
  return typeof spec === 'string' ? spec : null;
}

/** λ every epoch. */
export const constantSchedule = (): EntropySchedule => withSpec((_epoch, base) => base, 'constant');

/** Ramps λ linearly from base/epochs up to base over the first `epochs` epochs, then holds it. */
export function linearWarmupSchedule(epochs: number): EntropySchedule {
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`linearWarmupSchedule: epochs must be an integer ≥ 1, got ${epochs}`);
  return withSpec((epoch, base) => base * Math.min(1, (epoch + 1) / epochs), `warmup:${epochs}`);
}

/** λ·factor^epoch (factor > 1 grows the pressure towards binary selectors over time). */
export function exponentialSchedule(factor: number): EntropySchedule {
  if (!Number.isFinite(factor) || factor <= 0) throw new Error(`exponentialSchedule: factor must be a finite number > 0, got ${factor}`);
  return withSpec((epoch, base) => base * factor ** epoch, `exp:${factor}`);
}

/** Per training step: ramps λ linearly from base/steps up to base over the first `steps` steps, then holds it. */
export function stepWarmupSchedule(steps: number): EntropySchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`stepWarmupSchedule: steps must be an integer ≥ 1, got ${steps}`);
  return withSpec(Object.assign((step: number, base: number) => base * Math.min(1, (step + 1) / steps), { unit: 'step' as const }), `warmup-steps:${steps}`);
}

/** Per training step: λ·factor^step. */
export function stepExponentialSchedule(factor: number): EntropySchedule {
  if (!Number.isFinite(factor) || factor <= 0) throw new Error(`stepExponentialSchedule: factor must be a finite number > 0, got ${factor}`);
  return withSpec(Object.assign((step: number, base: number) => base * factor ** step, { unit: 'step' as const }), `exp-steps:${factor}`);
}

/**
 * Parses a schedule written on a command line: `constant`, `warmup:<epochs>`, `exp:<factor>` (per
 * epoch), `warmup-steps:<steps>` or `exp-steps:<factor>` (per training step).
 */
export function parseEntropySchedule(spec: string): EntropySchedule {
  const [name, arg, ...rest] = spec.split(':');
  const value = Number(arg);
  if (rest.length === 0) {
    if (name === 'constant' && arg === undefined) return constantSchedule();
    const count = arg !== undefined && Number.isInteger(value) && value >= 1;
    const factor = arg !== undefined && Number.isFinite(value) && value > 0;
    if (name === 'warmup' && count) return linearWarmupSchedule(value);
    if (name === 'exp' && factor) return exponentialSchedule(value);
    if (name === 'warmup-steps' && count) return stepWarmupSchedule(value);
    if (name === 'exp-steps' && factor) return stepExponentialSchedule(value);
  }
  throw new Error(
    `entropy schedule: cannot parse '${spec}' (expected 'constant', 'warmup:<epochs ≥ 1>', 'exp:<factor > 0>', 'warmup-steps:<steps ≥ 1>' or 'exp-steps:<factor > 0>')`,
  );
}
