import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { add, mul } from '../../autograd/ops/elementwise.js';
import { sum } from '../../autograd/ops/reduce.js';
import { fromTypedArray } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { dselectKWeights, dselectKWeightsWithSelectors } from './weights.js';
import { reachabilityPenalty, selectorEntropy } from './regularizers.js';
import { selectorOutputs, selectorProducts } from './selector.js';
import { smoothStep } from './smooth-step.js';
import { selectorBitCount } from './validate.js';

/**
 * Gradient checks of the DSelect-k functional core at seeded random points: static and per-example,
 * numExperts a power of two and not, k = 1..4, γ ∈ {0.5, 1, 2}. Every z point mixes saturated
 * coordinates (|z| ∈ [0.52γ, γ], where S is constant) with interior ones (|z| ≤ 0.45γ), keeping
 * clear of the kinks at ±γ/2.
 */
const EXPERT_COUNTS = [2, 3, 5, 8, 16] as const;
const GAMMAS = [0.5, 1, 2] as const;
const BATCH = 3;

function smoothStepRef(t: number, gamma: number): number {
  if (t <= -gamma / 2) return 0;
  if (t >= gamma / 2) return 1;
  return (-2 * t ** 3) / gamma ** 3 + (3 * t) / (2 * gamma) + 0.5;
}

/** Smallest reachable mass Σ_{e<n} r_e over the selector rows of z (rows of m values). */
function minReachableMass(z: Float64Array, m: number, numExperts: number, gamma: number): number {
  let min = Infinity;
  for (let row = 0; row < z.length / m; row++) {
    let mass = 0;
    for (let e = 0; e < numExperts; e++) {
      let p = 1;
      for (let j = 0; j < m; j++) {
        const s = smoothStepRef(z[row * m + j]!, gamma);
        p *= (e >> (m - 1 - j)) & 1 ? s : 1 - s;
      }
      mass += p;
    }
    min = Math.min(min, mass);
  }
  return min;
}

/**
 * z values, about a third saturated. With `numExperts` given, every selector keeps a reachable mass
 * ≥ 1e-3 (so the reachability penalty is finite and smooth there).
 */
function drawZ(seed: number, count: number, gamma: number, m: number, numExperts?: number): Float64Array {
  const rng = new Rng(seed);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const z = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      z[i] = rng.uniform() < 0.35 ? (rng.uniform() < 0.5 ? -1 : 1) * gamma * rng.uniformIn(0.52, 1) : gamma * rng.uniformIn(-0.45, 0.45);
    }
    const saturated = z.filter((t) => Math.abs(t) > gamma / 2).length;
    const mixed = count < 2 || (saturated > 0 && saturated < count);
    const reachable = numExperts === undefined || minReachableMass(z, m, numExperts, gamma) >= 1e-3;
    if (mixed && reachable) return z;
  }
  throw new Error(`dselect checks: no valid z point for seed ${seed}`);
}

function uniformValues(seed: number, count: number, low: number, high: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: count }, () => rng.uniformIn(low, high));
}

const f64 = (values: Float64Array, shape: readonly number[]): Tensor => fromTypedArray(values.slice(), shape);

interface GateShape {
  numExperts: number;
  k: number;
  gamma: number;
  perExample: boolean;
  label: string;
  zShape: number[];
  alphaShape: number[];
  seed: number;
}

function gateShapes(): GateShape[] {
  const out: GateShape[] = [];
  EXPERT_COUNTS.forEach((numExperts, ni) => {
    for (let k = 1; k <= 4; k++) {
      const gamma = GAMMAS[(ni + k) % GAMMAS.length]!;
      for (const perExample of [false, true]) {
        const m = selectorBitCount(numExperts);
        const lead = perExample ? [BATCH, k] : [k];
        out.push({
          numExperts,
          k,
          gamma,
          perExample,
          label: `${perExample ? 'per-example' : 'static'} n=${numExperts} k=${k} γ=${gamma}`,
          zShape: [...lead, m],
          alphaShape: lead,
          seed: 1000 * numExperts + 10 * k + (perExample ? 1 : 0),
        });
      }
    }
  });
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

function zInput(g: GateShape, reachable = false): Tensor {
  const m = selectorBitCount(g.numExperts);
  return f64(drawZ(g.seed, size(g.zShape), g.gamma, m, reachable ? g.numExperts : undefined), g.zShape);
}

function alphaInput(g: GateShape): Tensor {
  return f64(uniformValues(g.seed + 7, size(g.alphaShape), -1.5, 1.5), g.alphaShape);
}

const smoothStepCases: GradcheckCase[] = GAMMAS.map((gamma, i) => ({
  name: `dselect/smoothStep γ=${gamma}`,
  fn: (x) => smoothStep(x!, gamma),
  inputs: () => [f64(drawZ(50 + i, 20, gamma, 1), [4, 5])],
}));

const selectorCases: GradcheckCase[] = gateShapes().map((g) => ({
  name: `dselect/selectorOutputs ${g.label}`,
  fn: (z) => selectorOutputs(z!, g.numExperts, g.gamma),
  inputs: () => [zInput(g)],
}));

const weightCases: GradcheckCase[] = gateShapes().map((g) => ({
  name: `dselect/dselectKWeights ${g.label}`,
  fn: (z, alpha) => dselectKWeights(z!, alpha!, g.numExperts, g.gamma),
  inputs: () => [zInput(g), alphaInput(g)],
}));

/** The product stage at s with exact 0s and 1s (saturated smooth-steps): the leave-one-out products must not divide. */
const productCases: GradcheckCase[] = [5, 8].map((numExperts) => ({
  name: `dselect/selectorProducts at exact 0/1 factors n=${numExperts}`,
  fn: (s) => selectorProducts(s!, numExperts),
  inputs: () => [f64(Float64Array.from([0, 0.3, 1, 1, 0, 0.6, 0.25, 1, 0, 0, 0, 1]), [4, 3])],
}));

const pick = (filter: (g: GateShape) => boolean): GateShape[] => gateShapes().filter(filter);

const entropyCases: GradcheckCase[] = [
  {
    name: 'dselect/selectorEntropy of r directly [3,5] sum',
    fn: (r) => selectorEntropy(r!),
    inputs: () => [f64(uniformValues(71, 15, 0.05, 1), [3, 5])],
  },
  {
    name: 'dselect/selectorEntropy of r directly [2,3,5] mean',
    fn: (r) => selectorEntropy(r!, 'mean'),
    inputs: () => [f64(uniformValues(72, 30, 0.05, 1), [2, 3, 5])],
  },
  ...pick((g) => [3, 5, 8].includes(g.numExperts)).map(
    (g): GradcheckCase => ({
      name: `dselect/selectorEntropy(selectorOutputs) ${g.label} ${g.perExample ? 'mean' : 'sum'}`,
      fn: (z) => selectorEntropy(selectorOutputs(z!, g.numExperts, g.gamma), g.perExample ? 'mean' : 'sum'),
      inputs: () => [zInput(g)],
    }),
  ),
];

const penaltyCases: GradcheckCase[] = [
  {
    name: 'dselect/reachabilityPenalty of r directly [3,5] sum',
    fn: (r) => reachabilityPenalty(r!),
    inputs: () => [f64(uniformValues(81, 15, 0.05, 1), [3, 5])],
  },
  {
    name: 'dselect/reachabilityPenalty of r directly [2,3,5] mean',
    fn: (r) => reachabilityPenalty(r!, 'mean'),
    inputs: () => [f64(uniformValues(82, 30, 0.05, 1), [2, 3, 5])],
  },
  ...pick((g) => [3, 5].includes(g.numExperts)).map(
    (g): GradcheckCase => ({
      name: `dselect/reachabilityPenalty(selectorOutputs) ${g.label}`,
      fn: (z) => reachabilityPenalty(selectorOutputs(z!, g.numExperts, g.gamma)),
      inputs: () => [zInput(g, true)],
    }),
  ),
];

/** The training objective of a gate: Σ_e c_e·q_e + λ·entropy + reachability penalty. */
const trainingLossCases: GradcheckCase[] = pick((g) => [3, 5, 16].includes(g.numExperts) && g.k >= 2).map(
  (g): GradcheckCase => ({
    name: `dselect/training loss ${g.label}`,
    fn: (z, alpha, c) => {
      const { weights, selectors } = dselectKWeightsWithSelectors(z!, alpha!, g.numExperts, g.gamma);
      const entropy = selectorEntropy(selectors, g.perExample ? 'mean' : 'sum');
      return add(add(sum(mul(weights, c!)), mul(entropy, 0.3)), reachabilityPenalty(selectors));
    },
    inputs: () => [zInput(g, true), alphaInput(g), f64(uniformValues(g.seed + 11, g.numExperts, -1, 1), [g.numExperts])],
    opts: { wrt: [0, 1] },
  }),
);

export const dselectGradcheckCases: readonly GradcheckCase[] = [
  ...smoothStepCases,
  ...selectorCases,
  ...productCases,
  ...weightCases,
  ...entropyCases,
  ...penaltyCases,
  ...trainingLossCases,
];
