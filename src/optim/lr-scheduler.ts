import { assertPositive, type Optimizer } from './optimizer.js';

/**
 * A learning-rate schedule: the factor applied to the base learning rate at step t (0-based; a step
 * is an epoch or an optimiser step, as the scheduler says). Pure functions, so they compose.
 */
export type LrSchedule = (step: number) => number;

function assertCount(owner: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${owner}: ${name} must be an integer ≥ 1, got ${String(value)}`);
}

function assertFactor(owner: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${owner}: ${name} must be a finite number ≥ 0, got ${String(value)}`);
}

/** γ^⌊t / stepSize⌋: the rate is multiplied by γ every `stepSize` steps (PyTorch's StepLR). */
export function stepDecay(opts: { stepSize: number; gamma?: number }): LrSchedule {
  const gamma = opts.gamma ?? 0.1;
  assertCount('stepDecay', 'stepSize', opts.stepSize);
  assertFactor('stepDecay', 'gamma', gamma);
  return (t) => gamma ** Math.floor(t / opts.stepSize);
}

/**
 * Cosine annealing from 1 to `minFactor` over `steps` steps, then held at `minFactor`
 * (PyTorch's CosineAnnealingLR with eta_min = minFactor · base rate, without restarts).
 */
export function cosineDecay(opts: { steps: number; minFactor?: number }): LrSchedule {
  const minFactor = opts.minFactor ?? 0;
  assertCount('cosineDecay', 'steps', opts.steps);
  assertFactor('cosineDecay', 'minFactor', minFactor);
  return (t) => minFactor + ((1 - minFactor) * (1 + Math.cos((Math.PI * Math.min(t, opts.steps)) / opts.steps))) / 2;
}

/**
 * Linear warm-up: (t + 1) / steps for the first `steps` steps (the full rate at step steps − 1),
 * then `then` (default: constant 1) counted from the end of the warm-up — e.g.
 * `linearWarmup({ steps: 5, then: cosineDecay({ steps: 45 }) })`.
 */
export function linearWarmup(opts: { steps: number; then?: LrSchedule }): LrSchedule {
  assertCount('linearWarmup', 'steps', opts.steps);
  const then = opts.then ?? (() => 1);
  return (t) => (t < opts.steps ? (t + 1) / opts.steps : then(t - opts.steps));
}

/** When a scheduler advances: once per epoch (PyTorch's usual place) or after every optimiser step. */
export type LrInterval = 'epoch' | 'step';

export interface LrSchedulerState {
  type: 'LRScheduler';
  /** Steps taken (the schedule's position). */
  steps: number;
  baseLr: number;
  interval: LrInterval;
}

/**
 * Drives any Optimizer's `lr` with a schedule: lr = baseLr · schedule(t). It sets the rate for t = 0
 * when created; `step()` advances t. `fit` calls `step()` at the end of every epoch or after every
 * optimiser step (`interval`); in a hand-written loop call it yourself. Its position is in `stateDict()`.
 */
export class LRScheduler {
  readonly optimizer: Optimizer;
  readonly schedule: LrSchedule;
  readonly interval: LrInterval;
  baseLr: number;
  private steps = 0;

  constructor(optimizer: Optimizer, schedule: LrSchedule, opts: { interval?: LrInterval; baseLr?: number } = {}) {
    if (typeof schedule !== 'function') throw new Error(`LRScheduler: schedule must be a function of the step, got ${typeof schedule}`);
    const interval = opts.interval ?? 'epoch';
    if (interval !== 'epoch' && interval !== 'step') throw new Error(`LRScheduler: interval must be 'epoch' or 'step', got ${String(interval)}`);
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.interval = interval;
    this.baseLr = opts.baseLr ?? optimizer.lr;
    assertPositive('LRScheduler', 'baseLr', this.baseLr);
    this.apply();
  }

  /** Steps taken so far (the t of the rate in force). */
  get position(): number {
    return this.steps;
  }

  /** The rate in force. */
  get lr(): number {
    return this.optimizer.lr;
  }

  /** Advances one epoch or optimiser step and sets the optimiser's rate. */
  step(): void {
    this.steps++;
    this.apply();
  }

  /** Jumps to step t (e.g. to resume at epoch t). */
  seek(t: number): void {
    if (!Number.isInteger(t) || t < 0) throw new Error(`LRScheduler.seek: step must be an integer ≥ 0, got ${String(t)}`);
    this.steps = t;
    this.apply();
  }

  stateDict(): LrSchedulerState {
    return { type: 'LRScheduler', steps: this.steps, baseLr: this.baseLr, interval: this.interval };
  }

  loadStateDict(state: LrSchedulerState): void {
    if (typeof state !== 'object' || state === null || state.type !== 'LRScheduler') throw new Error('LRScheduler.loadStateDict: not a scheduler state');
    if (state.interval !== this.interval) throw new Error(`LRScheduler.loadStateDict: state advances per ${String(state.interval)}, this scheduler per ${this.interval}`);
    assertPositive('LRScheduler.loadStateDict', 'baseLr', state.baseLr);
    this.baseLr = state.baseLr;
    this.seek(state.steps);
  }

  private apply(): void {
    const factor = this.schedule(this.steps);
    const lr = this.baseLr * factor;
    if (!Number.isFinite(lr) || lr < 0) {
      throw new Error(`LRScheduler: the schedule gave factor ${factor} at step ${this.steps} (lr ${lr}); the rate must stay a finite number ≥ 0`);
    }
    this.optimizer.lr = lr;
  }
}
