import { noGrad } from '../autograd/engine.js';
import { Module } from '../nn/module.js';
import { zeros } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { summarizeGateWeights, type GateDiagnostics } from './gate-diagnostics.js';

/** What a gate produces for a batch. */
export interface GateOutput {
  /** Expert weights [B, numExperts] (rows of a static gate are all equal). Exactly 0 for unselected experts. */
  weights: Tensor;
  /** The gate's auxiliary loss (entropy, reachability, load balancing), a scalar; null in eval mode or when there is none. */
  regularization: Tensor | null;
}

/**
 * A gate maps a batch x [B, inputDim] to expert weights. It is a Module (its parameters train with the
 * model) and reports which experts it selects. Regularisers are returned only in training mode.
 */
export abstract class Gate extends Module {
  /** Short name used in reports: 'dselect-k', 'softmax', 'top-k', 'noisy-top-k'. */
  abstract readonly kind: string;
  abstract readonly numExperts: number;
  /** True when the weights depend on the input (per-example gates); false for one weight vector per task. */
  abstract readonly perExample: boolean;
  /** Feature count expected in x; null for a static gate created without one (any x is accepted). */
  abstract readonly inputDim: number | null;

  abstract forward(x: Tensor): GateOutput;

  /**
   * Which experts the gate uses and how cleanly (inference weights: eval mode, no noise). Static gates
   * need no input; per-example gates summarise their weights over the rows of `x`. Reads synchronously:
   * on a backend that reads back only asynchronously (webgpu) use `diagnosticsAsync`.
   */
  diagnostics(x?: Tensor): GateDiagnostics {
    const { weights, selectors } = tidy(() => this.diagnosticTensors(this.diagnosticInput(x)));
    try {
      return this.summarize(weights.toArray(), weights.shape[0]!, selectors ? selectors.toArray() : null);
    } finally {
      weights.dispose();
      selectors?.dispose();
    }
  }

  /** `diagnostics` with an asynchronous readback: works on every backend, webgpu included. */
  async diagnosticsAsync(x?: Tensor): Promise<GateDiagnostics> {
    const { weights, selectors } = tidy(() => this.diagnosticTensors(this.diagnosticInput(x)));
    try {
      const [w, r] = await Promise.all([weights.data(), selectors ? selectors.data() : null]);
      return this.summarize(w, weights.shape[0]!, r);
    } finally {
      weights.dispose();
      selectors?.dispose();
    }
  }

  /** Experts with a non-zero weight for some row, by decreasing mean weight. */
  selectedExperts(x?: Tensor): number[] {
    return this.diagnostics(x).selectedExperts;
  }

  /**
   * DSelect-k only: its single-expert selectors' outputs [selectors · numExperts] for the rows of x
   * (a selector is binary when each of its entries is exactly 0 or 1); null for other gates.
   */
  protected selectorOutputs(x: Tensor): Tensor | null {
    void x;
    return null;
  }

  /** Inference weights [B, numExperts] (eval mode, no gradient) and the selector outputs, on the device. */
  private diagnosticTensors(x: Tensor): { weights: Tensor; selectors: Tensor | null } {
    const wasTraining = this.training;
    this.train(false);
    try {
      return noGrad(() => ({ weights: this.forward(x).weights, selectors: this.selectorOutputs(x) }));
    } finally {
      this.train(wasTraining);
    }
  }

  private summarize(weights: ArrayLike<number>, rows: number, selectors: ArrayLike<number> | null): GateDiagnostics {
    const n = this.numExperts;
    return { ...summarizeGateWeights(this.kind, { data: weights, rows, numExperts: n }), binarySelectorFraction: selectors ? binaryFraction(selectors, n) : null };
  }

  private diagnosticInput(x: Tensor | undefined): Tensor {
    if (x !== undefined) return x;
    if (this.perExample) {
      throw new Error(`${this.constructor.name}.diagnostics: a per-example gate needs inputs x [B, ${this.inputDim}] to report its selection`);
    }
    return zeros([1, this.inputDim ?? 1], { dtype: this.dtype() });
  }

  /** The dtype of the gate's parameters. */
  dtype(): DType {
    return this.parameters()[0]?.dtype ?? 'float32';
  }

  /** Checks x is [B, inputDim] (or any [B, d] for a static gate without inputDim); returns B. */
  protected checkInput(x: Tensor): number {
    const name = this.constructor.name;
    if (x.ndim !== 2) throw new Error(`${name}: input must be [batch, features], got ${formatShape(x.shape)}`);
    if (this.inputDim !== null && x.shape[1] !== this.inputDim) {
      throw new Error(`${name}: input ${formatShape(x.shape)} has ${x.shape[1]} features but the gate was built with inputDim = ${this.inputDim}`);
    }
    if (x.dtype !== this.dtype()) throw new Error(`${name}: input is ${x.dtype} but the gate's parameters are ${this.dtype()}`);
    return x.shape[0]!;
  }
}

/** The fraction of selectors (consecutive runs of n values) whose every entry is exactly 0 or 1. */
function binaryFraction(r: ArrayLike<number>, n: number): number {
  const selectors = r.length / n;
  let binary = 0;
  for (let s = 0; s < selectors; s++) {
    let ok = true;
    for (let e = 0; e < n && ok; e++) {
      const v = r[s * n + e]!;
      ok = v === 0 || v === 1;
    }
    if (ok) binary++;
  }
  return selectors > 0 ? binary / selectors : 0;
}

/** Argument checks shared by the gate constructors; errors name the gate, the parameter and the value. */
export function checkExpertCount(owner: string, numExperts: number): void {
  if (typeof numExperts !== 'number' || !Number.isInteger(numExperts) || numExperts < 2) {
    throw new Error(`${owner}: numExperts must be an integer ≥ 2, got ${String(numExperts)}`);
  }
}

export function checkK(owner: string, k: number, numExperts: number): void {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new Error(`${owner}: k must be an integer ≥ 1, got ${String(k)}`);
  if (k > numExperts) throw new Error(`${owner}: k = ${k} exceeds numExperts = ${numExperts}`);
}

export function checkInputDim(owner: string, inputDim: number | undefined, required: boolean): number | null {
  if (inputDim === undefined) {
    if (required) throw new Error(`${owner}: inputDim is required for a per-example gate`);
    return null;
  }
  if (!Number.isInteger(inputDim) || inputDim < 1) throw new Error(`${owner}: inputDim must be a positive integer, got ${String(inputDim)}`);
  return inputDim;
}
