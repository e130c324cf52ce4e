import { add, mul } from '../autograd/ops/elementwise.js';
import { softmax } from '../autograd/ops/softmax.js';
import { noGrad } from '../autograd/engine.js';
import { initContext, uniformInit } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { assertPositiveInteger } from '../nn/validate.js';
import { dselectKWeightsWithSelectors, reachabilityPenalty, selectorBitCount, selectorEntropy } from '../packs/dselect/index.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { constantSchedule, type EntropySchedule } from './entropy-schedule.js';
import { checkExpertCount, checkK } from './gate.js';
import { summarizeGateWeights, type GateDiagnostics } from './gate-diagnostics.js';
import { topKSoftmax } from './top-k.js';

/** The static gates of every task of a multi-task model, as one spec. */
export type StaticGateBankSpec =
  | { type: 'dselect-k'; k: number; gamma?: number; entropyWeight?: number; entropySchedule?: EntropySchedule; reachabilityWeight?: number }
  | { type: 'top-k'; k: number }
  | { type: 'softmax' };

export interface StaticGateBankOptions {
  numTasks: number;
  numExperts: number;
  rng?: Rng;
  dtype?: DType;
}

/**
 * T static gates of one kind held as stacked parameters: DSelect-k z [T, k, m] and α [T, k]; Top-k and
 * softmax one logit vector per task, α [T, n]. Row t is exactly what task t's own static gate
 * (DSelectKGate / TopKGate / SoftmaxGate with perExample false) computes from the same values — the
 * same initial distributions, the same weights and regularisers (summed over tasks, as a multi-task
 * model sums its gates' regularisers) — in a handful of ops instead of a handful per task.
 */
export class StaticGateBank extends Module {
  readonly kind: StaticGateBankSpec['type'];
  readonly numTasks: number;
  readonly numExperts: number;
  /** Selectors per task (DSelect-k) or experts kept (Top-k); null for softmax. */
  readonly k: number | null;
  readonly gamma: number;
  readonly bits: number;
  readonly baseEntropyWeight: number;
  /** λ in force (after the schedule). */
  entropyWeight: number;
  readonly entropySchedule: EntropySchedule;
  readonly reachabilityWeight: number;

  constructor(spec: StaticGateBankSpec, opts: StaticGateBankOptions) {
    super();
    const owner = 'StaticGateBank';
    assertPositiveInteger(owner, 'numTasks', opts.numTasks);
    checkExpertCount(owner, opts.numExperts);
    this.kind = spec.type;
    this.numTasks = opts.numTasks;
    this.numExperts = opts.numExperts;
    this.bits = selectorBitCount(opts.numExperts);
    const alphaInit = uniformInit(-0.05, 0.05);
    switch (spec.type) {
      case 'dselect-k': {
        checkK(owner, spec.k, opts.numExperts);
        const gamma = spec.gamma ?? 1;
        if (!(Number.isFinite(gamma) && gamma > 0)) throw new Error(`${owner}: gamma must be a finite number > 0, got ${String(gamma)}`);
        const entropyWeight = spec.entropyWeight ?? 1e-2;
        if (!(Number.isFinite(entropyWeight) && entropyWeight >= 0)) throw new Error(`${owner}: entropyWeight must be a finite number ≥ 0, got ${String(entropyWeight)}`);
        const reachabilityWeight = spec.reachabilityWeight ?? 1;
        if (!(Number.isFinite(reachabilityWeight) && reachabilityWeight >= 0)) throw new Error(`${owner}: reachabilityWeight must be a finite number ≥ 0, got ${String(reachabilityWeight)}`);
        this.k = spec.k;
        this.gamma = gamma;
        this.baseEntropyWeight = entropyWeight;
        this.entropyWeight = entropyWeight;
        this.entropySchedule = spec.entropySchedule ?? constantSchedule();
        this.reachabilityWeight = reachabilityWeight;
        const ctx = initContext(this.bits, spec.k, opts);
        this.addParameter('z', uniformInit(-gamma / 100, gamma / 100)([this.numTasks, spec.k, this.bits], ctx));
        this.addParameter('alpha', alphaInit([this.numTasks, spec.k], ctx));
        break;
      }
      case 'top-k':
      case 'softmax': {
        if (spec.type === 'top-k') checkK(owner, spec.k, opts.numExperts);
        this.k = spec.type === 'top-k' ? spec.k : null;
        this.gamma = 1;
        this.baseEntropyWeight = 0;
        this.entropyWeight = 0;
        this.entropySchedule = constantSchedule();
        this.reachabilityWeight = 0;
        this.addParameter('alpha', alphaInit([this.numTasks, this.numExperts], initContext(1, this.numExperts, opts)));
        break;
      }
      default:
        throw new Error(`${owner}: unknown gate type ${JSON.stringify((spec as { type?: unknown }).type)} (expected dselect-k, top-k or softmax)`);
    }
  }

  /** q [T, n] (row t: task t's expert weights), the regulariser (training only) and DSelect-k's selectors r [T, k, n]. */
  forward(): { weights: Tensor; regularization: Tensor | null; selectors: Tensor | null } {
    if (this.kind === 'softmax') return { weights: softmax(this.param('alpha'), -1), regularization: null, selectors: null };
    if (this.kind === 'top-k') return { weights: topKSoftmax(this.param('alpha'), this.k!).weights, regularization: null, selectors: null };
    const { weights, selectors } = dselectKWeightsWithSelectors(this.param('z'), this.param('alpha'), this.numExperts, this.gamma);
    if (!this.training) return { weights, regularization: null, selectors };
    let regularization: Tensor | null = null;
    if (this.entropyWeight > 0) regularization = mul(selectorEntropy(selectors, 'sum'), this.entropyWeight);
    const powerOfTwo = (this.numExperts & (this.numExperts - 1)) === 0;
    if (!powerOfTwo && this.reachabilityWeight > 0) {
      const penalty = mul(reachabilityPenalty(selectors, 'sum'), this.reachabilityWeight);
      regularization = regularization ? add(regularization, penalty) : penalty;
    }
    return { weights, regularization, selectors };
  }

  override onEpochStart(epoch: number): void {
    if (this.kind === 'dselect-k' && (this.entropySchedule.unit ?? 'epoch') === 'epoch') this.applySchedule(epoch, 'epoch');
  }

  override onStep(step: number): void {
    if (this.kind === 'dselect-k' && this.entropySchedule.unit === 'step') this.applySchedule(step, 'step');
  }

  private applySchedule(index: number, unit: string): void {
    const weight = this.entropySchedule(index, this.baseEntropyWeight);
    if (!Number.isFinite(weight) || weight < 0) throw new Error(`StaticGateBank: the entropy schedule gave λ = ${weight} for ${unit} ${index} (need a finite number ≥ 0)`);
    this.entropyWeight = weight;
  }

  /** Each task's gate diagnostics (inference weights), as its own static gate would report them. */
  diagnostics(): GateDiagnostics[] {
    const wasTraining = this.training;
    this.train(false);
    try {
      return tidy(() =>
        noGrad(() => {
          const { weights, selectors } = this.forward();
          const q = weights.toArray();
          const r = selectors ? selectors.toArray() : null;
          const n = this.numExperts;
          return Array.from({ length: this.numTasks }, (_, t) => {
            const row = { data: q.subarray(t * n, (t + 1) * n), rows: 1, numExperts: n };
            let binary: number | null = null;
            if (r) {
              const k = this.k!;
              let count = 0;
              for (let s = 0; s < k; s++) {
                const base = (t * k + s) * n;
                let ok = true;
                for (let e = 0; e < n && ok; e++) ok = r[base + e] === 0 || r[base + e] === 1;
                if (ok) count++;
              }
              binary = count / k;
            }
            return { ...summarizeGateWeights(this.kind, row), binarySelectorFraction: binary };
          });
        }),
      );
    } finally {
      this.train(wasTraining);
    }
  }
}
