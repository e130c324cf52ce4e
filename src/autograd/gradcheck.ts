import { Rng } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import { HostStorage } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import { noGrad, runBackward } from './engine.js';

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** Pass when |analytic − numeric| ≤ atol + rtol·|numeric| for every element (PyTorch's rule). */
  atol?: number;
  rtol?: number;
  /** Indices of the inputs to differentiate (default: all). */
  wrt?: readonly number[];
  /** Number of random output projections checked (each one full pass over every input element). */
  projections?: number;
  seed?: number;
}

export interface GradcheckMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
  error: number;
}

export interface GradcheckReport {
  passed: boolean;
  /** Largest |analytic − numeric| and its ratio to the allowed tolerance (≤ 1 passes). */
  maxAbsError: number;
  maxErrorRatio: number;
  worst: GradcheckMismatch | null;
  checkedElements: number;
  /** A zero upstream gradient gave exactly zero input gradients. */
  zeroGradExact: boolean;
  /** Two backward passes through the same graph gave identical gradients. */
  repeatIdentical: boolean;
  failures: string[];
}

type Fn = (...inputs: Tensor[]) => Tensor;

/**
 * Compares hand-derived gradients with central differences in float64. The output is projected on
 * random vectors v (so non-scalar outputs are checked through vᵀJ for every input element).
 */
export function gradcheck(fn: Fn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const wrt = opts.wrt ?? inputs.map((_, i) => i);
  const rng = new Rng(opts.seed ?? 1234);
  for (const [i, t] of inputs.entries()) {
    if (t.dtype !== 'float64') {
      throw new Error(`gradcheck: input ${i} ${formatShape(t.shape)} is ${t.dtype}; gradcheck needs float64 inputs`);
    }
  }
  const base = inputs.map((t) => t.toArray() as Float64Array);
  for (const [i, b] of base.entries()) {
    const bad = b.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new Error(`gradcheck: input ${i} ${formatShape(inputs[i]!.shape)} has the non-finite value ${b[bad]} at element ${bad}; central differences need finite inputs`);
    }
  }
  const leaves = (values: readonly Float64Array[], grad: boolean): Tensor[] =>
    values.map((v, i) => new Tensor(new HostStorage(v), inputs[i]!.shape, grad && wrt.includes(i)));

  const report: GradcheckReport = {
    passed: true,
    maxAbsError: 0,
    maxErrorRatio: 0,
    worst: null,
    checkedElements: 0,
    zeroGradExact: true,
    repeatIdentical: true,
    failures: [],
  };
  const projections = opts.projections ?? 1;
  for (let p = 0; p < projections; p++) {
    const params = leaves(base.map((b) => b.slice()), true);
    const out = fn(...params);
    if (!out.requiresGrad) {
      report.failures.push(`output ${formatShape(out.shape)} does not depend on any input that requires grad`);
      report.passed = false;
      return report;
    }
    const v = new Float64Array(out.size);
    for (let i = 0; i < v.length; i++) v[i] = (rng.uniform() < 0.5 ? -1 : 1) * (0.5 + rng.uniform());
    const vTensor = new Tensor(new HostStorage(v), out.shape);
    const analytic = backwardGrads(out, vTensor, params, true);
    const again = backwardGrads(out, vTensor, params, true);
    const zero = backwardGrads(out, new Tensor(new HostStorage(new Float64Array(out.size)), out.shape), params, false);

    for (const i of wrt) {
      const a = analytic[i]!;
      if (!arraysIdentical(a, again[i]!)) {
        report.repeatIdentical = false;
        report.failures.push(`input ${i}: a second backward pass gave different gradients`);
      }
      if (zero[i]!.some((x) => x !== 0)) {
        report.zeroGradExact = false;
        report.failures.push(`input ${i}: a zero upstream gradient gave a non-zero input gradient`);
      }
      const values = base.map((b) => b.slice());
      const x = values[i]!;
      for (let e = 0; e < x.length; e++) {
        const saved = x[e]!;
        x[e] = saved + eps;
        const plus = projected(fn, leaves(values, false), v);
        x[e] = saved - eps;
        const minus = projected(fn, leaves(values, false), v);
        x[e] = saved;
        const numeric = (plus - minus) / (2 * eps);
        const error = Math.abs(a[e]! - numeric);
        const allowed = atol + rtol * Math.abs(numeric);
        report.checkedElements++;
        const ratio = Number.isFinite(error) ? error / allowed : Infinity;
        if (error > report.maxAbsError || !Number.isFinite(error)) report.maxAbsError = error;
        if (ratio >= report.maxErrorRatio) {
          report.maxErrorRatio = ratio;
          report.worst = { input: i, index: e, analytic: a[e]!, numeric, error };
        }
        if (!(error <= allowed)) {
          report.failures.push(`input ${i} ${formatShape(inputs[i]!.shape)} element ${e}: analytic ${a[e]} vs numeric ${numeric} (error ${error.toExponential(3)} > ${allowed.toExponential(3)})`);
        }
      }
    }
  }
  report.passed = report.failures.length === 0;
  return report;
}

/** Runs `gradcheck` and throws an error carrying the report when it fails. */
export function assertGradcheck(fn: Fn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  const report = gradcheck(fn, inputs, opts);
  if (!report.passed) throw new Error(formatGradcheckReport(report));
  return report;
}

export function formatGradcheckReport(r: GradcheckReport): string {
  const lines = [
    `gradcheck ${r.passed ? 'passed' : 'FAILED'}: ${r.checkedElements} elements, max |error| ${r.maxAbsError.toExponential(3)}, max error/tolerance ${r.maxErrorRatio.toFixed(4)}`,
  ];
  if (r.worst) {
    const w = r.worst;
    lines.push(`  worst: input ${w.input} element ${w.index}: analytic ${w.analytic} numeric ${w.numeric}`);
  }
  lines.push(`  zero upstream gradient → zero gradients: ${r.zeroGradExact ? 'yes' : 'NO'}; repeat backward identical: ${r.repeatIdentical ? 'yes' : 'NO'}`);
  for (const f of r.failures.slice(0, 10)) lines.push(`  ${f}`);
  if (r.failures.length > 10) lines.push(`  … and ${r.failures.length - 10} more`);
  return lines.join('\n');
}

function backwardGrads(out: Tensor, upstream: Tensor, params: readonly Tensor[], retain: boolean): Float64Array[] {
  for (const p of params) p.zeroGrad();
  runBackward(out, upstream, { retainGraph: retain });
  return params.map((p) => (p.grad ? (p.grad.toArray() as Float64Array) : new Float64Array(p.size)));
}

function projected(fn: Fn, values: Tensor[], v: Float64Array): number {
  return noGrad(() => {
    const y = fn(...values).storage.readSync();
    let acc = 0;
    for (let i = 0; i < y.length; i++) acc += y[i]! * v[i]!;
    return acc;
  });
}

function arraysIdentical(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * One named gradient check, defined once in src and run both by the test suite and by the
 * `dselect-k gradcheck` command. `inputs` builds fresh float64 tensors each call.
 */
export interface GradcheckCase {
  name: string;
  fn: Fn;
  inputs: () => Tensor[];
  opts?: GradcheckOptions;
}
