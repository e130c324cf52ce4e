import type { GpuModeRequest } from 'dselect-k/gpu';

/**
 * What one training run of the page is made of: the controls, the URL (`?gate=dselect-k&gamma=0.25…`,
 * so a run can be linked and the browser test can set one up) and the worker all share this shape.
 */
export type GateChoice = 'dselect-k' | 'dselect-k-per-example' | 'top-k' | 'noisy-top-k' | 'softmax';

/** 'cpu' (typed-array + WebAssembly SIMD kernels) or 'gpu:<GPU.js mode>'. */
export type BackendChoice = 'cpu' | `gpu:${GpuModeRequest}`;

export interface DemoSettings {
  gate: GateChoice;
  /** Selectors (DSelect-k) or kept experts (Top-k). */
  k: number;
  /** Smooth-step width γ of DSelect-k. */
  gamma: number;
  /** λ of DSelect-k's entropy regulariser. */
  entropyWeight: number;
  backend: BackendChoice;
  experts: number;
  tasks: number;
  /** Task groups of the synthetic data (tasks in a group share a direction with cosine 0.9). */
  groups: number;
  trainSize: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export const DEFAULT_SETTINGS: Readonly<DemoSettings> = Object.freeze({
  gate: 'dselect-k',
  k: 2,
  gamma: 0.25,
  entropyWeight: 0.1,
  backend: 'cpu',
  experts: 8,
  tasks: 8,
  groups: 2,
  trainSize: 4096,
  epochs: 40,
  batchSize: 64,
  lr: 0.01,
  seed: 1,
});

export const GATE_LABELS: Readonly<Record<GateChoice, string>> = {
  'dselect-k': 'DSelect-k (static)',
  'dselect-k-per-example': 'DSelect-k (per-example)',
  'top-k': 'Top-k',
  'noisy-top-k': 'Noisy Top-k',
  softmax: 'Softmax (MMoE)',
};

/** The numeric fields: [min, max, integer]. */
export const NUMERIC_LIMITS: Readonly<Record<Exclude<keyof DemoSettings, 'gate' | 'backend'>, readonly [number, number, boolean]>> = {
  k: [1, 64, true],
  gamma: [1e-3, 10, false],
  entropyWeight: [0, 10, false],
  experts: [2, 64, true],
  tasks: [1, 32, true],
  groups: [1, 32, true],
  trainSize: [64, 20_000, true],
  epochs: [1, 500, true],
  batchSize: [1, 4096, true],
  lr: [1e-6, 1, false],
  seed: [0, 2 ** 31 - 1, true],
};

export function isGateChoice(x: string): x is GateChoice {
  return Object.hasOwn(GATE_LABELS, x);
}

/** Checks one numeric field; the message names the field and the value. */
export function checkNumber(field: keyof typeof NUMERIC_LIMITS, value: number): string | null {
  const [min, max, integer] = NUMERIC_LIMITS[field];
  if (!Number.isFinite(value)) return `${field} must be a number, got ${String(value)}`;
  if (integer && !Number.isInteger(value)) return `${field} must be an integer, got ${value}`;
  if (value < min || value > max) return `${field} must be in [${min}, ${max}], got ${value}`;
  return null;
}

/** Errors of a whole settings object (cross-field rules included); empty when it can run. */
export function validateSettings(s: DemoSettings): string[] {
  const errors: string[] = [];
  for (const field of Object.keys(NUMERIC_LIMITS) as (keyof typeof NUMERIC_LIMITS)[]) {
    const e = checkNumber(field, s[field]);
    if (e) errors.push(e);
  }
  if (s.gate !== 'softmax' && s.k > s.experts) errors.push(`k = ${s.k} must not exceed the ${s.experts} experts`);
  if (s.groups > s.tasks) errors.push(`groups = ${s.groups} must not exceed the ${s.tasks} tasks`);
  return errors;
}

/** Settings from URL query parameters over the defaults; unknown or malformed values are reported, not guessed. */
export function settingsFromQuery(query: URLSearchParams, isBackend: (b: string) => b is BackendChoice): { settings: DemoSettings; errors: string[] } {
  const settings: DemoSettings = { ...DEFAULT_SETTINGS };
  const errors: string[] = [];
  const gate = query.get('gate');
  if (gate !== null) {
    if (isGateChoice(gate)) settings.gate = gate;
    else errors.push(`gate must be one of ${Object.keys(GATE_LABELS).join(', ')}, got '${gate}'`);
  }
  const backend = query.get('backend');
  if (backend !== null) {
    if (isBackend(backend)) settings.backend = backend;
    else errors.push(`backend '${backend}' is not offered here`);
  }
  for (const field of Object.keys(NUMERIC_LIMITS) as (keyof typeof NUMERIC_LIMITS)[]) {
    const raw = query.get(field);
    if (raw === null) continue;
    const value = Number(raw);
    const e = checkNumber(field, value);
    if (e) errors.push(e);
    else settings[field] = value;
  }
  return { settings, errors };
}

/** The query string that reproduces `s` (only the fields that differ from the defaults). */
export function settingsToQuery(s: DemoSettings): URLSearchParams {
  const q = new URLSearchParams();
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof DemoSettings)[]) {
    if (s[key] !== DEFAULT_SETTINGS[key]) q.set(key, String(s[key]));
  }
  return q;
}
