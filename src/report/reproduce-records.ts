import type { GateType } from '../moe/gate-factory.js';
import type { Provenance } from './provenance.js';
import type { Regime } from './results.js';

/** What the ledger of a `dselect-k reproduce` run holds, one JSON object per line. */

/** The hyperparameters a reproduce run can set; which ones a gate has depends on the gate. */
export interface Setting {
  lr: number;
  /** DSelect-k: λ of the entropy regulariser. */
  entropyWeight?: number;
  /** DSelect-k: smooth-step width γ. */
  gamma?: number;
  /** Noisy Top-k: weight of the load-balancing loss. */
  balanceWeight?: number;
}

/** One finished epoch of a run. */
export interface EpochLog {
  /** 1-based. */
  epoch: number;
  /** Σ_t L_t / T on the training batches, without regularisers. */
  trainLoss: number;
  regularization: number;
  /** Σ_t L_t / T on the validation split. */
  valLoss: number;
  /** Validation accuracy per task (classification) or null (regression). */
  valAccuracy: (number | null)[];
  seconds: number;
}

/** A group of runs that share everything but the seed and the hyperparameters: one gate in one setting. */
export interface Cell {
  /** Unique within the ledger, e.g. 'T128/k2/static/dselect-k' or 'multi-fashion/static/top-k'. */
  key: string;
  dataset: string;
  tasks: number;
  /** null for gates that select every expert (softmax). */
  k: number | null;
  regime: Regime;
  gate: GateType;
}

/** The first line: the protocol every run of the ledger follows (checked when a run is continued). */
export interface ProtocolRecord {
  kind: 'protocol';
  protocol: string;
  version: number;
  /** Everything that makes two runs comparable (data, model, budget, search spaces); cells may be added later. */
  settings: Record<string, unknown>;
  createdAt: string;
}

/** One line per invocation that ran something: who ran it, where, with what. */
export interface SessionRecord {
  kind: 'session';
  startedAt: string;
  command: string;
  provenance: Provenance;
  /** The runs this session set out to do: per cell, its tuning trials and final seeds. */
  plan: { cell: Cell; trials: number; seeds: number }[];
}

/** One line per finished epoch of runs that log epochs (the long image runs), so a partial run shows progress. */
export interface EpochRecord extends EpochLog {
  kind: 'epoch';
  id: string;
  /** DSelect-k: fraction of exactly one-hot selectors after this epoch (mean over gates); null for other gates. */
  binarySelectorFraction: number | null;
}

export interface InferenceRecord {
  examples: number;
  /** Wall seconds to evaluate the test examples with every expert evaluated (dense) and with unused experts skipped. */
  denseSeconds: number;
  sparseSeconds: number;
  /** Experts that some task's gate uses (a static gate's selection), of `numExperts`. */
  expertsEvaluated: number;
  numExperts: number;
}

/** One line per finished run. */
export interface ResultRecord {
  kind: 'result';
  id: string;
  cell: Cell;
  /** 'trial': a tuning run, scored on validation; 'final': a seed at the chosen setting, scored on test. */
  phase: 'trial' | 'final';
  /** Trial number or seed number within the cell. */
  index: number;
  /** Model seed (initialisation, shuffling, gate noise). */
  seed: number;
  setting: Setting;
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** At the best epoch: Σ_t L_t / T, and the mean over tasks of the validation metric. */
  validation: { loss: number; metric: number };
  test: { metric: 'mse' | 'accuracy'; perTask: number[]; mean: number };
  /** Selection metrics against the ground-truth task groups (null without groups). */
  selection: { nmi: number | null; overlapScore: number | null };
  /** Experts with a non-zero weight per task (per example), averaged. */
  activeExperts: number;
  binarySelectorFraction: number | null;
  /** Task × expert mean test gate weights, kept for the first final seed only (heat maps). */
  gateWeights: number[][] | null;
  inference: InferenceRecord | null;
  /** Training wall seconds over every session of the run. */
  seconds: number;
  /** Epoch at which this session resumed the run (0: not resumed). */
  resumedAt: number;
  finishedAt: string;
  loadAverage: number[];
}

export type LedgerRecord = ProtocolRecord | SessionRecord | EpochRecord | ResultRecord;

export function isResultRecord(r: unknown): r is ResultRecord {
  return typeof r === 'object' && r !== null && (r as { kind?: unknown }).kind === 'result' && typeof (r as ResultRecord).id === 'string';
}
