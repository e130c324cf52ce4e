import { isGradEnabled } from '../autograd/engine.js';
import { add, mul } from '../autograd/ops/elementwise.js';
import { expand, reshape } from '../autograd/ops/shape.js';
import { initContext, uniformInit } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { keep } from '../tensor/scope.js';
import type { Storage } from '../tensor/storage.js';
import type { Tensor } from '../tensor/tensor.js';
import { dselectKWeights, dselectKWeightsWithSelectors, reachabilityPenalty, selectorBitCount, selectorEntropy, selectorOutputs, type RegularizerReduction } from '../packs/dselect/index.js';
import { constantSchedule, type EntropySchedule } from './entropy-schedule.js';
import { checkExpertCount, checkInputDim, checkK, Gate, type GateOutput } from './gate.js';

export interface DSelectKGateOptions {
  numExperts: number;
  /** Number of single-expert selectors: an upper bound on the experts with non-zero weight. */
  k: number;
  /** Smooth-step width γ (default 1). */
  gamma?: number;
  /** Weights computed from each example (z = Wx + b, α = Ax + c) instead of one trainable (z, α) (default false). */
  perExample?: boolean;
  /** Required for per-example gates; optional (checked if given) for static ones. */
  inputDim?: number;
  /** λ of the entropy regulariser that pushes selectors to one-hot (default 1e-2; 0 disables it). */
  entropyWeight?: number;
  /** λ per epoch or per training step (see EntropySchedule; applied by `fit`); default constant. */
  entropySchedule?: EntropySchedule;
  /**
   * How the per-example regularisers combine over the batch: 'mean' (default) keeps λ independent of the
   * batch size, matching the mean task losses; 'sum' is what the official implementation does.
   * Static gates have no batch dimension, so both are the same there.
   */
  regularizerReduction?: RegularizerReduction;
  /** Weight of the reachability penalty used when numExperts is not a power of 2 (default 1). */
  reachabilityWeight?: number;
  rng?: Rng;
  dtype?: DType;
}

function representable(value: number, dtype: DType): boolean {
  const v = dtype === 'float32' ? Math.fround(value) : value;
  return Number.isFinite(v) && v !== 0;
}

/**
 * The DSelect-k gate (Hazimeh et al., 2021): q = Σ_i softmax(α)_i · r(z⁽ⁱ⁾) with binary-encoded
 * single-expert selectors r built from smooth-steps. Static: trainable z [k, m] ~ U(−γ/100, γ/100) and
 * α [k] ~ U(−0.05, 0.05). Per example: z = W x + b and α = A x + c with the same initial ranges.
 * In training it adds λ·entropy(r) and, when numExperts is not a power of 2, the reachability penalty.
 */
export class DSelectKGate extends Gate {
  readonly kind = 'dselect-k';
  readonly numExperts: number;
  readonly k: number;
  readonly gamma: number;
  readonly perExample: boolean;
  readonly inputDim: number | null;
  /** Bits per selector, m = ceil(log2 numExperts). */
  readonly bits: number;
  /** λ as configured; `entropyWeight` is the value in force this epoch. */
  readonly baseEntropyWeight: number;
  entropyWeight: number;
  readonly entropySchedule: EntropySchedule;
  readonly regularizerReduction: RegularizerReduction;
  readonly reachabilityWeight: number;
  private readonly zMap: Linear | null;
  private readonly alphaMap: Linear | null;
  private inferenceCache: { z: Storage; alpha: Storage; weights: Tensor } | null = null;

  constructor(opts: DSelectKGateOptions) {
    super();
    const name = 'DSelectKGate';
    checkExpertCount(name, opts.numExperts);
    checkK(name, opts.k, opts.numExperts);
    const gamma = opts.gamma ?? 1;
    if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma <= 0) throw new Error(`${name}: gamma must be a finite number > 0, got ${String(gamma)}`);
    const dtype = opts.dtype ?? 'float32';
    if (!representable(gamma / 100, dtype) || !representable(1.5 / gamma, dtype)) {
      // z starts in ±γ/100 and S' peaks at 1.5/γ: either one rounding to 0 or ∞ trains NaN.
      throw new Error(`${name}: gamma ${gamma} is out of range for ${dtype}: the initial z range γ/100 = ${gamma / 100} or the peak slope 1.5/γ = ${1.5 / gamma} is not a finite non-zero ${dtype}`);
    }
    const entropyWeight = opts.entropyWeight ?? 1e-2;
    if (typeof entropyWeight !== 'number' || !Number.isFinite(entropyWeight) || entropyWeight < 0) {
      throw new Error(`${name}: entropyWeight must be a finite number ≥ 0, got ${String(entropyWeight)}`);
    }
    const reachabilityWeight = opts.reachabilityWeight ?? 1;
    if (!Number.isFinite(reachabilityWeight) || reachabilityWeight < 0) {
      throw new Error(`${name}: reachabilityWeight must be a finite number ≥ 0, got ${String(reachabilityWeight)}`);
    }
    const reduction = opts.regularizerReduction ?? 'mean';
    if (reduction !== 'mean' && reduction !== 'sum') throw new Error(`${name}: regularizerReduction must be 'mean' or 'sum', got ${String(reduction)}`);
    this.perExample = opts.perExample ?? false;
    this.inputDim = checkInputDim(name, opts.inputDim, this.perExample);
    this.numExperts = opts.numExperts;
    this.k = opts.k;
    this.gamma = gamma;
    this.bits = selectorBitCount(opts.numExperts);
    this.baseEntropyWeight = entropyWeight;
    this.entropyWeight = entropyWeight;
    this.entropySchedule = opts.entropySchedule ?? constantSchedule();
    this.regularizerReduction = reduction;
    this.reachabilityWeight = reachabilityWeight;

    const zInit = uniformInit(-gamma / 100, gamma / 100);
    const alphaInit = uniformInit(-0.05, 0.05);
    if (this.perExample) {
      const d = this.inputDim!;
      const common = { rng: opts.rng, dtype: opts.dtype };
      this.zMap = this.addModule('zMap', new Linear(d, this.k * this.bits, { ...common, weightInit: zInit, biasInit: zInit }));
      this.alphaMap = this.addModule('alphaMap', new Linear(d, this.k, { ...common, weightInit: alphaInit, biasInit: alphaInit }));
    } else {
      const ctx = initContext(this.bits, this.k, opts);
      this.addParameter('z', zInit([this.k, this.bits], ctx));
      this.addParameter('alpha', alphaInit([this.k], ctx));
      this.zMap = null;
      this.alphaMap = null;
    }
  }

  /** z [k, m] and α [k] (static) or z [B, k, m] and α [B, k] (per example). */
  private selectorParameters(x: Tensor, batch: number): { z: Tensor; alpha: Tensor } {
    if (this.zMap && this.alphaMap) {
      return { z: reshape(this.zMap.forward(x), [batch, this.k, this.bits]), alpha: this.alphaMap.forward(x) };
    }
    return { z: this.param('z'), alpha: this.param('alpha') };
  }

  forward(x: Tensor): GateOutput {
    const batch = this.checkInput(x);
    if (!this.perExample && !this.training && !isGradEnabled()) {
      // Inference with a static gate: q does not depend on x, so it is computed once per parameter value.
      return { weights: expand(reshape(this.staticInferenceWeights(), [1, this.numExperts]), [batch, this.numExperts]), regularization: null };
    }
    const { z, alpha } = this.selectorParameters(x, batch);
    const { weights, selectors } = dselectKWeightsWithSelectors(z, alpha, this.numExperts, this.gamma);
    const rowWeights = this.perExample ? weights : expand(reshape(weights, [1, this.numExperts]), [batch, this.numExperts]);
    return { weights: rowWeights, regularization: this.training ? this.regularization(selectors) : null };
  }

  /**
   * q of a static gate for inference, cached while z and α keep their storages (every update, load or
   * backend move gives a parameter a new storage, so a stale q is never returned).
   */
  private staticInferenceWeights(): Tensor {
    const z = this.param('z');
    const alpha = this.param('alpha');
    const cached = this.inferenceCache;
    if (cached && cached.z === z.storage && cached.alpha === alpha.storage && !cached.weights.isDisposed) return cached.weights;
    cached?.weights.dispose();
    const weights = keep(dselectKWeights(z, alpha, this.numExperts, this.gamma));
    this.inferenceCache = { z: z.storage, alpha: alpha.storage, weights };
    return weights;
  }

  private regularization(r: Tensor): Tensor | null {
    let total: Tensor | null = null;
    if (this.entropyWeight > 0) total = mul(selectorEntropy(r, this.regularizerReduction), this.entropyWeight);
    const powerOfTwo = (this.numExperts & (this.numExperts - 1)) === 0;
    if (!powerOfTwo && this.reachabilityWeight > 0) {
      const penalty = mul(reachabilityPenalty(r, this.regularizerReduction), this.reachabilityWeight);
      total = total ? add(total, penalty) : penalty;
    }
    return total;
  }

  override onEpochStart(epoch: number): void {
    if ((this.entropySchedule.unit ?? 'epoch') === 'epoch') this.applySchedule(epoch, 'epoch');
  }

  override onStep(step: number): void {
    if (this.entropySchedule.unit === 'step') this.applySchedule(step, 'step');
  }

  private applySchedule(index: number, unit: 'epoch' | 'step'): void {
    const weight = this.entropySchedule(index, this.baseEntropyWeight);
    if (!Number.isFinite(weight) || weight < 0) {
      throw new Error(`DSelectKGate: the entropy schedule gave λ = ${weight} for ${unit} ${index} (need a finite number ≥ 0)`);
    }
    this.entropyWeight = weight;
  }

  protected override selectorOutputs(x: Tensor): Tensor {
    const { z } = this.selectorParameters(x, x.shape[0]!);
    return selectorOutputs(z, this.numExperts, this.gamma);
  }
}
