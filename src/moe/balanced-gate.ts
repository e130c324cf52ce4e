import { add, div, mul, softplus, sub, where } from '../autograd/ops/elementwise.js';
import { sum } from '../autograd/ops/reduce.js';
import { softmax } from '../autograd/ops/softmax.js';
import { zerosInit } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { allocArray, type DType } from '../tensor/dtype.js';
import { fromTypedArray, randn } from '../tensor/creation.js';
import { getGlobalRng, Rng, type RngState } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { assignWithCapacity, assignmentMask, checkCapacityFactor, expertCapacity, rankRows, type CapacityAssignment } from './capacity.js';
import { checkExpertCount, checkInputDim, checkK, Gate, type GateOutput } from './gate.js';
import { loadBalancingLoss } from './load-balance.js';
import { normalCdf } from '../packs/normal-cdf/op.js';
import { indexMask } from './top-k.js';

/**
 * How expert use is balanced (Pavlitskaya et al. 2022): 'soft' adds the auxiliary loss
 * w·(CV²(importance) + CV²(load)); 'hard' caps every expert at ceil(capacityFactor·k·T/n) examples
 * per batch and reroutes overflow to the next-best expert; 'both' does both; 'none' neither.
 */
export type BalanceMode = 'none' | 'soft' | 'hard' | 'both';
export const balanceModes: readonly BalanceMode[] = ['none', 'soft', 'hard', 'both'];

export type ImportanceSource = 'gates' | 'probabilities';
export const importanceSources: readonly ImportanceSource[] = ['gates', 'probabilities'];

export interface BalancedTopKGateOptions {
  numExperts: number;
  inputDim: number;
  k: number;
  balance?: BalanceMode;
  /** w of the soft constraint (default 1e-2). */
  balanceWeight?: number;
  /** Capacity factor of the hard constraint (default 1.5, > 0; below 1 some examples must be dropped). */
  capacityFactor?: number;
  /** Also cap experts in eval mode (default false: inference routes every example to its own top k). */
  capacityInEval?: boolean;
  /**
   * Training noise N(0,1)·(softplus(x W_noise) + ε) on the logits (Shazeer et al.); it is what makes
   * the load term of the soft constraint differentiable. Default: true when the soft constraint is on.
   */
  noisy?: boolean;
  /**
   * What the importance term sums over the batch: 'gates', the routed weights (Shazeer et al.: exact
   * zeros outside the chosen experts), or 'probabilities', the router's full softmax, so that experts no
   * example chose still receive gradient and the noise-free router itself is pushed towards balance.
   * Default 'gates'.
   */
  importance?: ImportanceSource;
  /** Renormalise the weights over the chosen experts (default: k > 1). Off, a row's weights are its full softmax probabilities of the chosen experts (Switch Transformer style), so top-1 routing still passes gradient to the router. */
  renormalize?: boolean;
  noiseEpsilon?: number;
  noiseSeed?: number;
  rng?: Rng;
  dtype?: DType;
}

/** Everything one routing decision produced, for the layer that mixes experts and for diagnostics. */
export interface Routing extends GateOutput {
  /** Clean router logits [B, n] (no noise), e.g. for DAMEX's router cross-entropy. */
  logits: Tensor;
  assignment: CapacityAssignment;
}

/**
 * Top-k routing for MoE layers with the soft and/or hard balancing constraint. Keeps running counts of
 * how many examples each expert received in training (`takeUsage`) so utilisation can be plotted.
 */
export class BalancedTopKGate extends Gate {
  readonly kind = 'balanced-top-k';
  readonly numExperts: number;
  readonly k: number;
  readonly perExample = true;
  readonly inputDim: number;
  readonly balance: BalanceMode;
  readonly balanceWeight: number;
  readonly capacityFactor: number;
  readonly capacityInEval: boolean;
  readonly noisy: boolean;
  readonly renormalize: boolean;
  readonly importance: ImportanceSource;
  readonly noiseEpsilon: number;
  readonly noiseSeed: number;
  /** Source of the training noise (replace it to fix the noise, e.g. in gradient checks). */
  rng: Rng;
  private readonly logitsLayer: Linear;
  private readonly noiseLayer: Linear | null;
  private usage: Float64Array;
  private usageBatches = 0;
  private usageRerouted = 0;
  private usageDropped = 0;

  constructor(opts: BalancedTopKGateOptions) {
    super();
    const name = 'BalancedTopKGate';
    checkExpertCount(name, opts.numExperts);
    checkK(name, opts.k, opts.numExperts);
    this.inputDim = checkInputDim(name, opts.inputDim, true)!;
    const balance = opts.balance ?? 'soft';
    if (!balanceModes.includes(balance)) throw new Error(`${name}: balance must be one of ${balanceModes.join(', ')}, got ${JSON.stringify(balance)}`);
    const balanceWeight = opts.balanceWeight ?? 1e-2;
    if (!Number.isFinite(balanceWeight) || balanceWeight < 0) throw new Error(`${name}: balanceWeight must be a finite number ≥ 0, got ${String(balanceWeight)}`);
    const capacityFactor = opts.capacityFactor ?? 1.5;
    checkCapacityFactor(name, capacityFactor);
    const noiseEpsilon = opts.noiseEpsilon ?? 1e-2;
    if (!Number.isFinite(noiseEpsilon) || noiseEpsilon < 0) throw new Error(`${name}: noiseEpsilon must be a finite number ≥ 0, got ${String(noiseEpsilon)}`);
    this.numExperts = opts.numExperts;
    this.k = opts.k;
    this.balance = balance;
    this.balanceWeight = balanceWeight;
    this.capacityFactor = capacityFactor;
    this.capacityInEval = opts.capacityInEval ?? false;
    this.noisy = opts.noisy ?? (balance === 'soft' || balance === 'both');
    this.renormalize = opts.renormalize ?? opts.k > 1;
    this.importance = opts.importance ?? 'gates';
    if (!importanceSources.includes(this.importance)) throw new Error(`${name}: importance must be one of ${importanceSources.join(', ')}, got ${JSON.stringify(opts.importance)}`);
    this.noiseEpsilon = noiseEpsilon;
    const rng = opts.rng ?? getGlobalRng();
    this.logitsLayer = this.addModule('logits', new Linear(this.inputDim, this.numExperts, { rng, dtype: opts.dtype }));
    this.noiseLayer = this.noisy ? this.addModule('noise', new Linear(this.inputDim, this.numExperts, { bias: false, weightInit: zerosInit, rng, dtype: opts.dtype })) : null;
    this.noiseSeed = opts.noiseSeed ?? rng.nextUint32();
    this.rng = new Rng(this.noiseSeed);
    this.usage = new Float64Array(this.numExperts);
  }

  get softConstraint(): boolean {
    return this.balance === 'soft' || this.balance === 'both';
  }

  get hardConstraint(): boolean {
    return this.balance === 'hard' || this.balance === 'both';
  }

  forward(x: Tensor): GateOutput {
    const { weights, regularization } = this.route(x);
    return { weights, regularization };
  }

  /** Routes a batch x [B, inputDim]: weights [B, n] (exact zeros outside the chosen experts), the aux loss, logits and assignment. */
  route(x: Tensor): Routing {
    const batch = this.checkInput(x);
    const n = this.numExperts;
    const clean = this.logitsLayer.forward(x);
    let scores = clean;
    let scale: Tensor | null = null;
    if (this.training && this.noiseLayer) {
      scale = add(softplus(this.noiseLayer.forward(x)), this.noiseEpsilon);
      scores = add(clean, mul(randn([batch, n], { rng: this.rng, dtype: clean.dtype }), scale));
    }
    const host = scores.toArray();
    const capped = this.hardConstraint && (this.training || this.capacityInEval);
    const capacity = capped ? expertCapacity(batch, n, this.k, this.capacityFactor) : batch;
    const assignment = assignWithCapacity(host, batch, n, this.k, capacity);
    const mask = assignmentMask(assignment, batch, n);
    const weights = this.mixingWeights(scores, mask, batch);

    if (this.training) this.recordUsage(assignment);
    let regularization: Tensor | null = null;
    if (this.training && this.softConstraint && this.balanceWeight > 0) {
      const load = scale && this.k < n ? sum(this.inTopKProbability(clean, scores, scale, host, batch), 0) : null;
      regularization = loadBalancingLoss(this.importance === 'gates' ? weights : softmax(clean, -1), load, this.balanceWeight);
    }
    return { weights, regularization, logits: clean, assignment };
  }

  /** softmax of the scores over the chosen experts (renormalised), or the full softmax masked to them. */
  private mixingWeights(scores: Tensor, mask: Uint8Array, batch: number): Tensor {
    const n = this.numExperts;
    const dtype = scores.dtype;
    const maskData = allocArray(dtype, batch * n);
    const rowValid = allocArray(dtype, batch);
    let emptyRows = 0;
    for (let r = 0; r < batch; r++) {
      let any = 0;
      for (let e = 0; e < n; e++) any |= mask[r * n + e]!;
      if (any) {
        rowValid[r] = 1;
        for (let e = 0; e < n; e++) maskData[r * n + e] = mask[r * n + e]!;
      } else {
        emptyRows++;
        maskData[r * n] = 1; // placeholder so the row's softmax is defined; zeroed by rowValid below
      }
    }
    const maskTensor = fromTypedArray(maskData, [batch, n]);
    let weights = this.renormalize ? softmax(where(maskTensor, scores, -Infinity), -1) : mul(softmax(scores, -1), maskTensor);
    if (emptyRows > 0) weights = mul(weights, fromTypedArray(rowValid, [batch, 1]));
    return weights;
  }

  /**
   * P(expert e in the top k | the other noisy logits) = Φ((clean_e − threshold_e) / scale_e), threshold_e
   * the (k+1)-th largest noisy score if e is among the top k, else the k-th (Shazeer et al., App. A).
   */
  private inTopKProbability(clean: Tensor, noisy: Tensor, scale: Tensor, noisyHost: ArrayLike<number>, batch: number): Tensor {
    const n = this.numExperts;
    const ranked = rankRows(noisyHost, batch, n);
    const inTopK = indexMask(ranked, n, this.k, batch, n, noisy.dtype);
    const ifIn = sum(mul(noisy, indexMask(ranked, n, 1, batch, n, noisy.dtype, this.k)), 1, true);
    const ifOut = sum(mul(noisy, indexMask(ranked, n, 1, batch, n, noisy.dtype, this.k - 1)), 1, true);
    const probIfIn = normalCdf(div(sub(clean, ifIn), scale));
    const probIfOut = normalCdf(div(sub(clean, ifOut), scale));
    return where(inTopK, probIfIn, probIfOut);
  }

  private recordUsage(a: CapacityAssignment): void {
    for (let e = 0; e < this.numExperts; e++) this.usage[e]! += a.counts[e]!;
    this.usageBatches++;
    this.usageRerouted += a.rerouted;
    this.usageDropped += a.dropped;
  }

  /** Examples routed to each expert in training since the last call (and rerouted/dropped slots); resets the counters. */
  takeUsage(): { counts: number[]; batches: number; rerouted: number; dropped: number } {
    const out = { counts: [...this.usage], batches: this.usageBatches, rerouted: this.usageRerouted, dropped: this.usageDropped };
    this.usage = new Float64Array(this.numExperts);
    this.usageBatches = 0;
    this.usageRerouted = 0;
    this.usageDropped = 0;
    return out;
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
