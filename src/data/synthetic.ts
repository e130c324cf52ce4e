import type { DType } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/creation.js';
import { allocArray } from '../tensor/dtype.js';
import { Rng } from '../tensor/random.js';
import type { MultiTaskData, MultiTaskSplit, TargetScaling } from './types.js';

/**
 * MMoE-style synthetic multi-task regression with controlled task relatedness (Ma et al. 2018,
 * generalised to groups of several tasks):
 *
 *   u_g, v_t        orthonormal directions: one base per group, one own direction per task
 *   w_t = c·(√ρ·u_g + √(1−ρ)·v_t)       so cos(w_a, w_b) = ρ inside a group and 0 across groups
 *   y_t = w_tᵀx + Σ_{i=1..10} sin(i·w_tᵀx + (i−1)²) + N(0, σ²),   x ~ N(0, I_d)
 *
 * Every direction is exactly orthogonal when inputDim ≥ numGroups + numTasks; with fewer dimensions
 * the task directions stay exactly orthogonal to the group bases but only approximately to each other
 * (the realised cosines are returned). Targets are standardised per task with the training split's
 * mean and std; the scaling is returned so predictions can be mapped back.
 */
export interface SyntheticConfig {
  numTasks: number;
  /** Tasks fill contiguous groups whose sizes differ by at most one. */
  numGroups: number;
  inputDim: number;
  /** Cosine ρ between the weight vectors of two tasks of the same group, in [0, 1]. */
  correlation: number;
  /** Norm c of every weight vector. */
  scale: number;
  noiseStd: number;
  numTrain: number;
  numVal: number;
  numTest: number;
  seed: number;
  dtype: DType;
}

export const SYNTHETIC_DEFAULTS: Readonly<SyntheticConfig> = Object.freeze({
  numTasks: 8,
  numGroups: 2,
  inputDim: 16,
  correlation: 0.9,
  scale: 1,
  noiseStd: 0.01,
  numTrain: 5000,
  numVal: 1000,
  numTest: 2000,
  seed: 0,
  dtype: 'float32',
});

export interface SyntheticData extends MultiTaskData {
  config: SyntheticConfig;
  /** Task weight vectors w_t, row-major [numTasks, inputDim], float64. */
  taskWeights: Float64Array;
  /** Realised cosines: mean within a group and largest |cos| across groups. */
  cosines: { withinGroupMean: number; acrossGroupMaxAbs: number };
}

export function generateSynthetic(overrides: Partial<SyntheticConfig> = {}): SyntheticData {
  const config: SyntheticConfig = { ...SYNTHETIC_DEFAULTS, ...overrides };
  validate(config);
  const { numTasks: T, numGroups: G, inputDim: d, correlation: rho, scale: c } = config;
  const rng = new Rng(config.seed);

  const groups = contiguousGroups(T, G);
  const bases = orthonormalBasis(rng, d, Math.min(d, G + T));
  const taskWeights = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const u = bases[groups[t]!]!;
    const v = G + t < bases.length ? bases[G + t]! : randomDirectionOrthogonalTo(rng, d, bases.slice(0, G));
    for (let j = 0; j < d; j++) taskWeights[t * d + j] = c * (Math.sqrt(rho) * u[j]! + Math.sqrt(1 - rho) * v[j]!);
  }

  const raw = {
    train: sampleSplit(rng, config, taskWeights, config.numTrain),
    val: sampleSplit(rng, config, taskWeights, config.numVal),
    test: sampleSplit(rng, config, taskWeights, config.numTest),
  };
  const scaling = targetScaling(raw.train.y, config.numTrain, T);
  const toSplit = (s: { x: Float64Array; y: Float64Array }, n: number): MultiTaskSplit => {
    standardise(s.y, n, scaling);
    return {
      size: n,
      x: fromTypedArray(copyAs(config.dtype, s.x), [n, d]),
      y: fromTypedArray(copyAs(config.dtype, s.y), [n, T]),
    };
  };

  return {
    name: 'synthetic',
    description: `synthetic regression: ${T} tasks in ${G} groups (ρ = ${rho}), d = ${d}`,
    input: { kind: 'vector', shape: [d] },
    tasks: Array.from({ length: T }, (_, t) => ({ name: `task${t}`, kind: 'regression' as const })),
    taskGroups: Int32Array.from(groups),
    targetScaling: scaling,
    train: toSplit(raw.train, config.numTrain),
    val: toSplit(raw.val, config.numVal),
    test: toSplit(raw.test, config.numTest),
    config,
    taskWeights,
    cosines: realisedCosines(taskWeights, groups, T, d),
  };
}

/** The group count of the reproduce protocol: max(2, ⌊tasks / 8⌋) — 2, 4 and 16 groups for 8, 32 and 128 tasks. */
export function reproduceGroupCount(tasks: number): number {
  return Math.max(2, Math.floor(tasks / 8));
}

/** Task t's group when tasks fill contiguous groups: ⌊t·G/T⌋ (sizes differ by at most one). */
export function contiguousGroupOf(task: number, numTasks: number, numGroups: number): number {
  return Math.floor((task * numGroups) / numTasks);
}

/** The nonlinear response of the generator for one projection s = wᵀx (noise-free, unscaled). */
export function syntheticResponse(s: number): number {
  let y = s;
  for (let i = 1; i <= 10; i++) y += Math.sin(i * s + (i - 1) * (i - 1));
  return y;
}

function validate(c: SyntheticConfig): void {
  const positiveInt = (name: keyof SyntheticConfig, min: number): void => {
    const v = c[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new Error(`synthetic: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
    }
  };
  positiveInt('numTasks', 1);
  positiveInt('numGroups', 1);
  positiveInt('inputDim', 1);
  positiveInt('numTrain', 2);
  positiveInt('numVal', 1);
  positiveInt('numTest', 1);
  if (c.numGroups > c.numTasks) throw new Error(`synthetic: numGroups (${c.numGroups}) exceeds numTasks (${c.numTasks})`);
  if (c.inputDim < c.numGroups + 1) {
    throw new Error(`synthetic: inputDim (${c.inputDim}) must exceed numGroups (${c.numGroups}) to leave room for task directions`);
  }
  if (!(c.correlation >= 0 && c.correlation <= 1)) throw new Error(`synthetic: correlation must be in [0, 1], got ${c.correlation}`);
  if (!(c.scale > 0 && Number.isFinite(c.scale))) throw new Error(`synthetic: scale must be a positive number, got ${c.scale}`);
  if (!(c.noiseStd >= 0 && Number.isFinite(c.noiseStd))) throw new Error(`synthetic: noiseStd must be ≥ 0, got ${c.noiseStd}`);
  if (!Number.isFinite(c.seed)) throw new Error(`synthetic: seed must be a finite number, got ${c.seed}`);
  if (c.dtype !== 'float32' && c.dtype !== 'float64') throw new Error(`synthetic: dtype must be float32 or float64, got ${String(c.dtype)}`);
}

/** Task t belongs to group floor(t·G/T): contiguous groups whose sizes differ by at most one. */
function contiguousGroups(numTasks: number, numGroups: number): number[] {
  return Array.from({ length: numTasks }, (_, t) => contiguousGroupOf(t, numTasks, numGroups));
}

/** `count` orthonormal vectors in R^d by Gram–Schmidt (twice, for float64 orthogonality) on Gaussians. */
function orthonormalBasis(rng: Rng, d: number, count: number): Float64Array[] {
  const out: Float64Array[] = [];
  while (out.length < count) {
    const v = gaussian(rng, d);
    for (let pass = 0; pass < 2; pass++) for (const b of out) axpy(-dot(v, b), b, v);
    const norm = Math.sqrt(dot(v, v));
    if (norm < 1e-8) continue;
    for (let j = 0; j < d; j++) v[j]! /= norm;
    out.push(v);
  }
  return out;
}

function randomDirectionOrthogonalTo(rng: Rng, d: number, basis: readonly Float64Array[]): Float64Array {
  for (;;) {
    const v = gaussian(rng, d);
    for (let pass = 0; pass < 2; pass++) for (const b of basis) axpy(-dot(v, b), b, v);
    const norm = Math.sqrt(dot(v, v));
    if (norm < 1e-8) continue;
    for (let j = 0; j < d; j++) v[j]! /= norm;
    return v;
  }
}

function sampleSplit(rng: Rng, c: SyntheticConfig, w: Float64Array, n: number): { x: Float64Array; y: Float64Array } {
  const d = c.inputDim;
  const T = c.numTasks;
  const x = new Float64Array(n * d);
  const y = new Float64Array(n * T);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) x[r * d + j] = rng.normal();
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += w[t * d + j]! * x[r * d + j]!;
      y[r * T + t] = syntheticResponse(s) + c.noiseStd * rng.normal();
    }
  }
  return { x, y };
}

function targetScaling(y: Float64Array, n: number, T: number): TargetScaling[] {
  return Array.from({ length: T }, (_, t) => {
    let mean = 0;
    for (let r = 0; r < n; r++) mean += y[r * T + t]!;
    mean /= n;
    let v = 0;
    for (let r = 0; r < n; r++) v += (y[r * T + t]! - mean) ** 2;
    const std = Math.sqrt(v / (n - 1));
    return { mean, std: std > 0 ? std : 1 };
  });
}

function standardise(y: Float64Array, n: number, scaling: readonly TargetScaling[]): void {
  const T = scaling.length;
  for (let r = 0; r < n; r++) {
    for (let t = 0; t < T; t++) y[r * T + t] = (y[r * T + t]! - scaling[t]!.mean) / scaling[t]!.std;
  }
}

function realisedCosines(w: Float64Array, groups: readonly number[], T: number, d: number): SyntheticData['cosines'] {
  const row = (t: number): Float64Array => w.subarray(t * d, (t + 1) * d);
  let within = 0;
  let withinCount = 0;
  let acrossMax = 0;
  for (let a = 0; a < T; a++) {
    for (let b = a + 1; b < T; b++) {
      const cos = dot(row(a), row(b)) / Math.sqrt(dot(row(a), row(a)) * dot(row(b), row(b)));
      if (groups[a] === groups[b]) {
        within += cos;
        withinCount++;
      } else acrossMax = Math.max(acrossMax, Math.abs(cos));
    }
  }
  return { withinGroupMean: withinCount > 0 ? within / withinCount : Number.NaN, acrossGroupMaxAbs: acrossMax };
}

function gaussian(rng: Rng, d: number): Float64Array {
  const v = new Float64Array(d);
  for (let j = 0; j < d; j++) v[j] = rng.normal();
  return v;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let j = 0; j < y.length; j++) y[j]! += alpha * x[j]!;
}

function copyAs(dtype: DType, data: Float64Array): Float32Array | Float64Array {
  const out = allocArray(dtype, data.length);
  out.set(data);
  return out;
}
