import { add, div, mul, softplus, sub, where } from '../autograd/ops/elementwise.js';
import { sum } from '../autograd/ops/reduce.js';
import { zerosInit } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { randn } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { getGlobalRng, Rng, type RngState } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkExpertCount, checkInputDim, checkK, Gate, type GateOutput } from './gate.js';
import { loadBalancingLoss } from './load-balance.js';
import { normalCdf } from '../packs/normal-cdf/op.js';
import { indexMask, topKSoftmax } from './top-k.js';

export interface NoisyTopKGateOptions {
  numExperts: number;
  inputDim: number;
  k: number;
  /** w of the auxiliary loss w·(CV²(importance) + CV²(load)) (default 1e-2; 0 disables it). */
  balanceWeight?: number;
  /** Added to the noise scale softplus(x W_noise) so it never reaches 0 (default 1e-2, as Shazeer et al.'s code). */
  noiseEpsilon?: number;
  /** Seed of the training noise; the noise generator is reseeded from it every epoch so resumed runs repeat exactly. */
  noiseSeed?: number;
  rng?: Rng;
  dtype?: DType;
}

/**
 * Noisy top-k gating with load balancing (Shazeer et al., 2017). Training: logits = x W_g + b +
 * N(0,1)·(softplus(x W_noise) + ε), keep the top k, softmax over them; the auxiliary loss balances
 * importance = Σ_batch gates and load = Σ_batch P(expert in top-k), where P is the smooth estimate
 * Φ((clean − threshold)/noise scale). Eval: no noise, no loss.
 */
export class NoisyTopKGate extends Gate {
  readonly kind = 'noisy-top-k';
  readonly numExperts: number;
  readonly k: number;
  readonly perExample = true;
  readonly inputDim: number;
  readonly balanceWeight: number;
  readonly noiseEpsilon: number;
  readonly noiseSeed: number;
  /** Source of the training noise (replace it to control the noise exactly, e.g. in gradient checks). */
  rng: Rng;
  private readonly logits: Linear;
  private readonly noiseScale: Linear;

  constructor(opts: NoisyTopKGateOptions) {
    super();
    const name = 'NoisyTopKGate';
    checkExpertCount(name, opts.numExperts);
    checkK(name, opts.k, opts.numExperts);
    this.inputDim = checkInputDim(name, opts.inputDim, true)!;
    const balanceWeight = opts.balanceWeight ?? 1e-2;
    if (!Number.isFinite(balanceWeight) || balanceWeight < 0) throw new Error(`${name}: balanceWeight must be a finite number ≥ 0, got ${String(balanceWeight)}`);
    const noiseEpsilon = opts.noiseEpsilon ?? 1e-2;
    if (!Number.isFinite(noiseEpsilon) || noiseEpsilon < 0) throw new Error(`${name}: noiseEpsilon must be a finite number ≥ 0, got ${String(noiseEpsilon)}`);
    this.numExperts = opts.numExperts;
    this.k = opts.k;
    this.balanceWeight = balanceWeight;
    this.noiseEpsilon = noiseEpsilon;
    const rng = opts.rng ?? getGlobalRng();
    this.logits = this.addModule('logits', new Linear(this.inputDim, this.numExperts, { rng, dtype: opts.dtype }));
    this.noiseScale = this.addModule('noise', new Linear(this.inputDim, this.numExperts, { bias: false, weightInit: zerosInit, rng, dtype: opts.dtype }));
    this.noiseSeed = opts.noiseSeed ?? rng.nextUint32();
    this.rng = new Rng(this.noiseSeed);
  }

  forward(x: Tensor): GateOutput {
    const batch = this.checkInput(x);
    const clean = this.logits.forward(x);
    if (!this.training) return { weights: topKSoftmax(clean, this.k).weights, regularization: null };
    const scale = add(softplus(this.noiseScale.forward(x)), this.noiseEpsilon);
    const noise = randn([batch, this.numExperts], { rng: this.rng, dtype: clean.dtype });
    const noisy = add(clean, mul(noise, scale));
    const { weights, mask, ranked } = topKSoftmax(noisy, this.k);
    if (this.balanceWeight === 0) return { weights, regularization: null };
    const load = this.k < this.numExperts ? sum(this.inTopKProbability(clean, noisy, scale, mask, ranked), 0) : null;
    return { weights, regularization: loadBalancingLoss(weights, load, this.balanceWeight) };
  }

  /**
   * P(expert e in the top k | other experts' noisy logits) = Φ((clean_e − threshold_e) / scale_e), with
   * threshold_e the (k+1)-th largest noisy logit if e is in the top k, else the k-th (Shazeer et al., App. A).
   */
  private inTopKProbability(clean: Tensor, noisy: Tensor, scale: Tensor, mask: Tensor, ranked: Int32Array): Tensor {
    const [rows, n] = noisy.shape as [number, number];
    const perRow = this.k + 1;
    const ifIn = sum(mul(noisy, indexMask(ranked, perRow, 1, rows, n, noisy.dtype, this.k)), 1, true);
    const ifOut = sum(mul(noisy, indexMask(ranked, perRow, 1, rows, n, noisy.dtype, this.k - 1)), 1, true);
    const probIfIn = normalCdf(div(sub(clean, ifIn), scale));
    const probIfOut = normalCdf(div(sub(clean, ifOut), scale));
    return where(mask, probIfIn, probIfOut);
  }

  override onEpochStart(epoch: number): void {
    this.rng = new Rng((this.noiseSeed + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  }

  override randomState(): RngState {
    return this.rng.state();
  }

  override setRandomState(state: RngState | null): void {
    if (state === null) throw new Error(`${this.constructor.name}.setRandomState: expected the noise generator's state, got null`);
    this.rng.setState(state);
  }
}
