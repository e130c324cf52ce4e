/** The entropy weight λ to use in a 0-based `epoch`, given the configured base weight. */
export type EntropySchedule = (epoch: number, baseWeight: number) => number;

/** The text form of a built-in schedule ('constant', 'warmup:E', 'exp:F'), kept on the function so models can be saved. */
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

/**
 * Parses a schedule written on a command line: `constant`, `warmup:<epochs>` or `exp:<factor>`.
 */
export function parseEntropySchedule(spec: string): EntropySchedule {
  const [name, arg, ...rest] = spec.split(':');
  const value = Number(arg);
  if (rest.length === 0) {
    if (name === 'constant' && arg === undefined) return constantSchedule();
    if (name === 'warmup' && arg !== undefined && Number.isInteger(value) && value >= 1) return linearWarmupSchedule(value);
    if (name === 'exp' && arg !== undefined && Number.isFinite(value) && value > 0) return exponentialSchedule(value);
  }
  throw new Error(`entropy schedule: cannot parse '${spec}' (expected 'constant', 'warmup:<epochs ≥ 1>' or 'exp:<factor > 0>')`);
}
