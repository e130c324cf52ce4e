import { parseEntropySchedule } from '../moe/entropy-schedule.js';
import type { CsvDataConfig } from './csv-data.js';

/** Everything that defines one training run; stored in checkpoints so `--resume` rebuilds the same run. */

/** Gate names as the library spells them (`GateSpec['type']`). */
export const GATE_KINDS = ['dselect-k', 'softmax', 'top-k', 'noisy-top-k'] as const;
export type GateKind = (typeof GATE_KINDS)[number];

/** Spellings of earlier versions of the command line, still accepted (with a deprecation notice). */
export const DEPRECATED_GATE_NAMES: Readonly<Record<string, GateKind>> = { topk: 'top-k', 'noisy-topk': 'noisy-top-k' };

/** The gate kind a name stands for (current or deprecated), or null for an unknown name. */
export function resolveGateKind(name: string): { kind: GateKind; deprecated: boolean } | null {
  if ((GATE_KINDS as readonly string[]).includes(name)) return { kind: name as GateKind, deprecated: false };
  const renamed = DEPRECATED_GATE_NAMES[name];
  return renamed ? { kind: renamed, deprecated: true } : null;
}

export interface DataConfig {
  dataset: string;
  /** Requested task count (null: the dataset's default). */
  tasks: number | null;
  trainSize: number | null;
  valSize: number | null;
  testSize: number | null;
  /** Seed of the data itself, kept apart from the model seed so every run of a comparison sees the same data. */
  dataSeed: number;
  /** Synthetic generator settings (null: its defaults). */
  groups: number | null;
  correlation: number | null;
  inputDim: number | null;
  /** Your own data (`--data file.csv --targets …`); then `dataset` is 'csv'. */
  csv?: CsvDataConfig;
}

export interface ModelConfig {
  gate: GateKind;
  experts: number;
  k: number;
  gamma: number;
  entropyWeight: number;
  /** 'constant', 'warmup:E' (ramp up over the first E epochs) or 'exp:F' (λ·F^epoch); see src/moe/entropy-schedule.ts. */
  entropySchedule: string;
  perExample: boolean;
  /** Load-balancing weight of the noisy Top-k gate. */
  balanceWeight: number;
  expertHidden: number[];
  expertOutput: number;
  towerHidden: number[];
}

export interface OptimConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export interface TrainConfig {
  data: DataConfig;
  model: ModelConfig;
  optim: OptimConfig;
}

export const DEFAULTS = {
  dataset: 'synthetic',
  experts: 4,
  k: 2,
  gamma: 1,
  entropyWeight: 0.05,
  entropySchedule: 'warmup:10',
  balanceWeight: 1e-2,
  expertHidden: [16],
  expertOutput: 8,
  towerHidden: [8],
  epochs: 15,
  batchSize: 64,
  lr: 0.01,
  seed: 0,
  dataSeed: 0,
} as const;

/** γ the command line accepts: the paper uses values near 1; far outside, float32 training saturates or overflows. */
export const GAMMA_RANGE = [1e-4, 1e4] as const;

/** Checks the combinations the individual flags cannot: k vs experts, gates that ignore k, … */
export function validateModelConfig(m: ModelConfig): void {
  if (m.experts < 2) throw new Error(`--experts must be ≥ 2, got ${m.experts}`);
  if (m.gate !== 'softmax' && (m.k < 1 || m.k > m.experts)) {
    throw new Error(`--k must be in [1, --experts = ${m.experts}] for the ${m.gate} gate, got ${m.k}`);
  }
  if (!(m.gamma >= GAMMA_RANGE[0] && m.gamma <= GAMMA_RANGE[1])) {
    throw new Error(`--gamma must be in [${GAMMA_RANGE[0]}, ${GAMMA_RANGE[1]}], got ${m.gamma} (the smooth-step's slope 1.5/γ and initial range γ/100 leave float32 outside it)`);
  }
  try {
    parseEntropySchedule(m.entropySchedule);
  } catch (e) {
    throw new Error(`--entropy-schedule: ${(e as Error).message}`);
  }
}
