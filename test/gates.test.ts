import { describe, expect, it } from 'vitest';
import { createGate, DSelectKGate, linearWarmupSchedule, NoisyTopKGate, parseEntropySchedule, randn, Rng, SoftmaxGate, tensor, TopKGate, zeros, type Gate, type Tensor } from '../src/index.js';
import { cvSquared, normalCdf } from '../src/advanced.js';

const arr = (t: Tensor): number[] => Array.from(t.toArray());
const rows = (t: Tensor): number[][] => t.toNested() as number[][];
const f64 = { dtype: 'float64' } as const;

function setParam(gate: Gate, name: string, values: number[]): void {
  const p = gate.namedParameters().find(([n]) => n === name)![1];
  p.setStorage(tensor(values, { dtype: p.dtype, shape: p.shape }).storage);
}

/** A point inside the smooth-step's linear-ish region (|z| < γ/2 = 0.5): every expert gets some weight. */
const Z = [
  [0.21, -0.33, 0.05],
  [-0.4, 0.12, 0.37],
];
const ALPHA = [0.3, -0.2];

/**
 * DSelect-k static weights from scratch (DESIGN.md §5): S(t) = −2t³/γ³ + 3t/(2γ) + 1/2 inside ±γ/2,
 * expert e's code most significant bit first, r_e = Π_j (S(z_j) if bit j of e else 1 − S(z_j)),
 * q = Σ_i softmax(α)_i · r(z_i). `leastSignificantBitFirst` is a deliberately wrong variant.
 */
function handWeights(z: number[][], alpha: number[], n: number, gamma: number, opts: { leastSignificantBitFirst?: boolean } = {}): number[] {
  const S = (t: number): number => (t <= -gamma / 2 ? 0 : t >= gamma / 2 ? 1 : (-2 * t ** 3) / gamma ** 3 + (3 * t) / (2 * gamma) + 0.5);
  const m = Math.max(1, Math.ceil(Math.log2(n)));
  const e = alpha.map(Math.exp);
  const pi = e.map((v) => v / e.reduce((a, b) => a + b, 0));
  return Array.from({ length: n }, (_, expert) =>
    z.reduce((q, zi, i) => {
      let r = 1;
      for (let j = 0; j < m; j++) {
        const bit = (expert >> (opts.leastSignificantBitFirst ? j : m - 1 - j)) & 1;
        r *= bit ? S(zi[j]!) : 1 - S(zi[j]!);
      }
      return q + pi[i]! * r;
    }, 0),
  );
}

describe('DSelectKGate', () => {
  it('rejects bad configurations, naming the parameter and the value', () => {
    expect(() => new DSelectKGate({ numExperts: 4, k: 5 })).toThrow('DSelectKGate: k = 5 exceeds numExperts = 4');
    expect(() => new DSelectKGate({ numExperts: 4, k: 0 })).toThrow('DSelectKGate: k must be an integer ≥ 1, got 0');
    expect(() => new DSelectKGate({ numExperts: 1, k: 1 })).toThrow('DSelectKGate: numExperts must be an integer ≥ 2, got 1');
    expect(() => new DSelectKGate({ numExperts: 4, k: 2, gamma: 0 })).toThrow('DSelectKGate: gamma must be a finite number > 0, got 0');
    expect(() => new DSelectKGate({ numExperts: 4, k: 2, gamma: -1 })).toThrow('got -1');
    expect(() => new DSelectKGate({ numExperts: 4, k: 2, perExample: true })).toThrow('DSelectKGate: inputDim is required for a per-example gate');
    expect(() => new DSelectKGate({ numExperts: 4, k: 2, entropyWeight: -0.1 })).toThrow('entropyWeight must be a finite number ≥ 0, got -0.1');
    const gate = new DSelectKGate({ numExperts: 4, k: 2, perExample: true, inputDim: 3 });
    expect(() => gate.forward(zeros([2, 5]))).toThrow('DSelectKGate: input [2,5] has 5 features but the gate was built with inputDim = 3');
  });

  it('initialises static z ~ U(−γ/100, γ/100) and α ~ U(−0.05, 0.05), using the configured γ', () => {
    const gate = new DSelectKGate({ numExperts: 8, k: 3, gamma: 4, rng: new Rng(1) });
    const [z, alpha] = gate.parameters();
    expect(z!.shape).toEqual([3, 3]);
    expect(alpha!.shape).toEqual([3]);
    expect(Math.max(...arr(z!).map(Math.abs))).toBeLessThanOrEqual(0.04);
    expect(Math.max(...arr(z!).map(Math.abs))).toBeGreaterThan(0.004);
    expect(Math.max(...arr(alpha!).map(Math.abs))).toBeLessThanOrEqual(0.05);
    const perExample = new DSelectKGate({ numExperts: 8, k: 3, gamma: 2, perExample: true, inputDim: 5, rng: new Rng(1) });
    expect(perExample.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['zMap.weight', [9, 5]],
      ['zMap.bias', [9]],
      ['alphaMap.weight', [3, 5]],
      ['alphaMap.bias', [3]],
    ]);
    const zw = arr(perExample.parameters()[0]!);
    expect(Math.max(...zw.map(Math.abs))).toBeLessThanOrEqual(0.02);
  });

  it('static weights equal values computed by hand from z and α, on every row; regularisers only in training', () => {
    const gate = new DSelectKGate({ numExperts: 8, k: 2, entropyWeight: 0.5, rng: new Rng(2), dtype: 'float64' });
    setParam(gate, 'z', Z.flat());
    setParam(gate, 'alpha', ALPHA);
    const x = randn([3, 4], { ...f64, rng: new Rng(3) });
    const { weights, regularization } = gate.forward(x);
    // Computed outside this code base (Python, the formulas of DESIGN.md §5), and by this file's own formula.
    const expected = [
      0.055227504874166194, 0.18041644071839502, 0.015637828629406842, 0.24237192385469314, 0.19477950066357996, 0.2663027408856749,
      0.016538394635802648, 0.02872566573828123,
    ];
    for (const row of rows(weights)) {
      row.forEach((v, e) => expect(v, `expert ${e}`).toBeCloseTo(expected[e]!, 14));
      row.forEach((v, e) => expect(v, `expert ${e}`).toBeCloseTo(handWeights(Z, ALPHA, 8, 1)[e]!, 14));
    }
    expect(expected.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(regularization).not.toBeNull();
    expect(regularization!.item()).toBeGreaterThan(0);
    gate.eval();
    expect(gate.forward(x).regularization).toBeNull();
    // No entropy weight and a power-of-two expert count: nothing to regularise.
    const plain = new DSelectKGate({ numExperts: 8, k: 2, entropyWeight: 0 });
    expect(plain.forward(zeros([2, 1])).regularization).toBeNull();
    // Not a power of two: the reachability penalty is always there in training (k selectors, each ≈ 1 / mass).
    const odd = new DSelectKGate({ numExperts: 5, k: 2, entropyWeight: 0, dtype: 'float64' });
    expect(odd.forward(zeros([2, 1], f64)).regularization!.item()).toBeGreaterThan(2);
  });

  it('with 5 experts (codes 5..7 unreachable) and γ = 2, weights match values computed by hand; the lost mass is not renormalised', () => {
    const z = [
      [0.6, -0.1, 0.3],
      [0.2, 0.9, -0.7],
    ];
    const gate = new DSelectKGate({ numExperts: 5, k: 2, gamma: 2, dtype: 'float64' });
    setParam(gate, 'z', z.flat());
    setParam(gate, 'alpha', [0, 1.1]);
    gate.eval();
    const q = rows(gate.forward(zeros([1, 1], f64)).weights)[0]!;
    const expected = [0.006004298566536264, 0.010838317671099919, 0.24936157489075098, 0.02386031505920201, 0.0395464772278891]; // Python
    q.forEach((v, e) => expect(v, `expert ${e}`).toBeCloseTo(expected[e]!, 14));
    q.forEach((v, e) => expect(v, `expert ${e}`).toBeCloseTo(handWeights(z, [0, 1.1], 5, 2)[e]!, 14));
    expect(q.reduce((a, b) => a + b, 0)).toBeLessThan(0.33);
  });

  it('per-example: the weights of each row equal the hand computation from z = W·x + b and α = A·x + c', () => {
    const gate = new DSelectKGate({ numExperts: 8, k: 2, perExample: true, inputDim: 2, dtype: 'float64' });
    const W = [[0.3, -0.2], [0.1, 0.4], [-0.25, 0.05], [0.2, 0.2], [-0.1, 0.3], [0.35, -0.15]];
    const b = [0.01, -0.1, 0.05, -0.2, 0.1, 0.02];
    const A = [[0.5, -1], [0.2, 0.3]];
    const c = [0.1, -0.1];
    setParam(gate, 'zMap.weight', W.flat());
    setParam(gate, 'zMap.bias', b);
    setParam(gate, 'alphaMap.weight', A.flat());
    setParam(gate, 'alphaMap.bias', c);
    gate.eval();
    const xs = [[0.4, -0.7], [-1.1, 0.2], [0.9, 0.8]];
    const q = rows(gate.forward(tensor(xs, f64)).weights);
    const affine = (M: number[][], bias: number[], x: number[]): number[] => M.map((row, i) => row[0]! * x[0]! + row[1]! * x[1]! + bias[i]!);
    xs.forEach((x, r) => {
      const zr = affine(W, b, x);
      const expected = handWeights([zr.slice(0, 3), zr.slice(3)], affine(A, c, x), 8, 1);
      q[r]!.forEach((v, e) => expect(v, `row ${r} expert ${e}`).toBeCloseTo(expected[e]!, 14));
    });
    expect(q[0]).not.toEqual(q[1]);
  });

  it('the same hand-computed check fails on a deliberately broken gate formula', () => {
    const gate = new DSelectKGate({ numExperts: 8, k: 2, dtype: 'float64' });
    setParam(gate, 'z', Z.flat());
    setParam(gate, 'alpha', ALPHA);
    gate.eval();
    const q = rows(gate.forward(zeros([1, 1], f64)).weights)[0]!;
    const worst = (reference: number[]): number => Math.max(...q.map((v, e) => Math.abs(v - reference[e]!)));
    expect(worst(handWeights(Z, ALPHA, 8, 1))).toBeLessThan(1e-14);
    expect(worst(handWeights(Z, ALPHA, 8, 1, { leastSignificantBitFirst: true }))).toBeGreaterThan(0.01);
    expect(worst(handWeights(Z, ALPHA, 8, 2))).toBeGreaterThan(0.01); // ignoring the configured γ
    expect(worst(handWeights(Z, [0, 0], 8, 1))).toBeGreaterThan(0.01); // ignoring α
  });

  it('once saturated, selects at most k experts with exact zeros and reports it', () => {
    const gate = new DSelectKGate({ numExperts: 8, k: 2, gamma: 1, dtype: 'float64' });
    // Selector 0 → code 101 = expert 5; selector 1 → code 010 = expert 2.
    setParam(gate, 'z', [0.8, -0.6, 0.51, -0.7, 0.9, -3]);
    setParam(gate, 'alpha', [1, 0]);
    const { weights } = gate.forward(zeros([2, 3], f64));
    const e = Math.exp(1);
    const q = rows(weights)[0]!;
    expect(q.map((v) => v === 0)).toEqual([true, true, false, true, true, false, true, true]);
    expect(q[2]).toBeCloseTo(1 / (1 + e), 14);
    expect(q[5]).toBeCloseTo(e / (1 + e), 14);
    const d = gate.diagnostics();
    expect(d.selectedExperts).toEqual([5, 2]);
    expect(d.binarySelectorFraction).toBe(1);
    expect(d.activeExperts).toEqual({ mean: 2, max: 2 });
    expect(d.sumViolations).toBe(0);
    expect(d.unusedExperts).toEqual([0, 1, 3, 4, 6, 7]);
    expect(gate.selectedExperts()).toEqual([5, 2]);
  });

  it('reports mass lost on unreachable codes and non-binary selectors', () => {
    const gate = new DSelectKGate({ numExperts: 5, k: 2, dtype: 'float64' });
    // Selector 0 → code 110 = 6 (unreachable with 5 experts); selector 1 between experts 0 and 1.
    setParam(gate, 'z', [0.9, 0.9, -0.9, -0.9, -0.9, 0.1]);
    const d = gate.diagnostics();
    expect(d.sumViolations).toBe(1);
    expect(d.binarySelectorFraction).toBe(0.5);
    expect(d.selectedExperts.sort()).toEqual([0, 1]);
    // In training the reachability penalty diagnoses the dead selector instead of returning Infinity.
    expect(() => gate.forward(zeros([1, 1], f64))).toThrow(/zero mass/);
  });

  it('per-example: each row has its own weights; regulariser reduction mean vs sum', () => {
    const make = (reduction: 'mean' | 'sum') =>
      new DSelectKGate({ numExperts: 4, k: 2, perExample: true, inputDim: 3, entropyWeight: 1, regularizerReduction: reduction, rng: new Rng(4), dtype: 'float64' });
    const x = randn([5, 3], { ...f64, rng: new Rng(5), std: 30 });
    const mean = make('mean').forward(x);
    const sum = make('sum').forward(x);
    expect(mean.weights.shape).toEqual([5, 4]);
    expect(rows(mean.weights)[0]).not.toEqual(rows(mean.weights)[1]);
    for (const r of rows(mean.weights)) expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(sum.regularization!.item()).toBeCloseTo(5 * mean.regularization!.item(), 10);
    expect(() => make('mean').diagnostics()).toThrow('DSelectKGate.diagnostics: a per-example gate needs inputs x [B, 3]');
    expect(make('mean').diagnostics(x).rows).toBe(5);
  });

  it('follows an entropy schedule through onEpochStart', () => {
    const gate = new DSelectKGate({ numExperts: 4, k: 2, entropyWeight: 0.1, entropySchedule: linearWarmupSchedule(4) });
    gate.onEpochStart(0);
    expect(gate.entropyWeight).toBeCloseTo(0.025, 12);
    gate.onEpochStart(9);
    expect(gate.entropyWeight).toBeCloseTo(0.1, 12);
    const exp = parseEntropySchedule('exp:2');
    expect(exp(3, 0.5)).toBe(4);
    expect(parseEntropySchedule('constant')(7, 0.3)).toBe(0.3);
    expect(parseEntropySchedule('warmup:2')(0, 1)).toBe(0.5);
    expect(() => parseEntropySchedule('warmup:0')).toThrow("entropy schedule: cannot parse 'warmup:0'");
  });
});

describe('SoftmaxGate', () => {
  it('per-example softmax(Wx + b) and static softmax(α) broadcast over rows', () => {
    const gate = new SoftmaxGate({ numExperts: 3, inputDim: 2, dtype: 'float64' });
    setParam(gate, 'logits.weight', [1, 0, 0, 1, 0, 0]);
    setParam(gate, 'logits.bias', [0, 0, 0]);
    const w = rows(gate.forward(tensor([[1, 2]], f64)).weights)[0]!;
    const z = Math.exp(1) + Math.exp(2) + 1;
    expect(w[0]).toBeCloseTo(Math.exp(1) / z, 12);
    expect(w[1]).toBeCloseTo(Math.exp(2) / z, 12);
    const fixed = new SoftmaxGate({ numExperts: 4, perExample: false });
    const out = fixed.forward(zeros([3, 7]));
    expect(out.weights.shape).toEqual([3, 4]);
    expect(out.regularization).toBeNull();
    expect(fixed.diagnostics().selectedExperts.length).toBe(4);
    expect(() => new SoftmaxGate({ numExperts: 4 })).toThrow('SoftmaxGate: inputDim is required for a per-example gate');
  });
});

describe('TopKGate', () => {
  it('keeps the k largest logits by index, including logits equal to 0', () => {
    const gate = new TopKGate({ numExperts: 4, inputDim: 2, k: 2, dtype: 'float64' });
    setParam(gate, 'logits.weight', [0, 0, 0, 0, 0, 0, 0, 0]);
    setParam(gate, 'logits.bias', [0, -1, -2, -3]);
    const w = rows(gate.forward(zeros([2, 2], f64)).weights);
    const e = Math.exp(-1);
    expect(w[0]![0]).toBeCloseTo(1 / (1 + e), 14);
    expect(w[0]![1]).toBeCloseTo(e / (1 + e), 14);
    expect(w[0]!.slice(2)).toEqual([0, 0]);
    expect(() => new TopKGate({ numExperts: 4, inputDim: 2, k: 5 })).toThrow('TopKGate: k = 5 exceeds numExperts = 4');
  });

  it('gives exactly k non-zero weights per row, at that row’s largest logits', () => {
    const gate = new TopKGate({ numExperts: 6, inputDim: 4, k: 3, rng: new Rng(6), dtype: 'float64' });
    const x = randn([10, 4], { ...f64, rng: new Rng(7) });
    const weights = rows(gate.forward(x).weights);
    const [W, b] = gate.parameters();
    const logits = rows(x.matmul(W!, { transB: true }).add(b!));
    weights.forEach((w, r) => {
      const chosen = w.map((v, e) => [v, e] as const).filter(([v]) => v !== 0).map(([, e]) => e);
      const expected = logits[r]!.map((v, e) => [v, e] as const).sort((p, q) => q[0] - p[0]).slice(0, 3).map(([, e]) => e).sort();
      expect(chosen).toEqual(expected);
      expect(w.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12);
    });
    expect(gate.diagnostics(x).activeExperts).toEqual({ mean: 3, max: 3 });
  });
});

describe('NoisyTopKGate', () => {
  it('is the clean top-k in eval mode and noisy with a load-balancing loss in training', () => {
    const gate = new NoisyTopKGate({ numExperts: 6, inputDim: 4, k: 2, rng: new Rng(8), dtype: 'float64' });
    const x = randn([16, 4], { ...f64, rng: new Rng(9) });
    gate.eval();
    const clean = gate.forward(x);
    expect(clean.regularization).toBeNull();
    expect(rows(gate.forward(x).weights)).toEqual(rows(clean.weights));
    gate.train();
    const noisy = gate.forward(x);
    expect(rows(noisy.weights)).not.toEqual(rows(clean.weights));
    for (const r of rows(noisy.weights)) expect(r.filter((v) => v !== 0).length).toBe(2);
    expect(noisy.regularization!.item()).toBeGreaterThan(0);
  });

  it('reseeds its noise per epoch so runs repeat; k = numExperts needs no load term', () => {
    const gate = new NoisyTopKGate({ numExperts: 4, inputDim: 3, k: 2, noiseSeed: 123, dtype: 'float64' });
    const x = randn([5, 3], { ...f64, rng: new Rng(1) });
    gate.onEpochStart(3);
    const a = rows(gate.forward(x).weights);
    gate.onEpochStart(3);
    expect(rows(gate.forward(x).weights)).toEqual(a);
    gate.onEpochStart(4);
    expect(rows(gate.forward(x).weights)).not.toEqual(a);
    const all = new NoisyTopKGate({ numExperts: 3, inputDim: 3, k: 3, dtype: 'float64' });
    expect(Number.isFinite(all.forward(x).regularization!.item())).toBe(true);
    expect(() => new NoisyTopKGate({ numExperts: 3, inputDim: 3, k: 1, balanceWeight: -1 })).toThrow('balanceWeight must be a finite number ≥ 0, got -1');
  });

  it('cvSquared and Φ match reference values', () => {
    expect(cvSquared(tensor([1, 2, 3], f64)).item()).toBeCloseTo(2 / 3 / (4 + 1e-10), 15);
    expect(cvSquared(tensor([0, 0], f64)).item()).toBe(0);
    const phi = arr(normalCdf(tensor([-10, -3, 0, 1, 5], f64)));
    expect(phi[0]! / 7.619853024160527e-24).toBeCloseTo(1, 10);
    expect(phi[1]).toBeCloseTo(0.0013498980316301035, 15);
    expect(phi[2]).toBe(0.5);
    expect(phi[3]).toBeCloseTo(0.8413447460685429, 15);
    expect(phi[4]).toBeCloseTo(0.9999997133484281, 15);
  });
});

describe('createGate', () => {
  it('builds each kind from a spec and rejects unknown kinds', () => {
    const ctx = { numExperts: 4, inputDim: 3 };
    expect(createGate({ type: 'dselect-k', k: 2, perExample: true }, ctx)).toBeInstanceOf(DSelectKGate);
    expect(createGate({ type: 'softmax' }, ctx)).toBeInstanceOf(SoftmaxGate);
    expect(createGate({ type: 'top-k', k: 1 }, ctx)).toBeInstanceOf(TopKGate);
    expect(createGate({ type: 'noisy-top-k', k: 1 }, ctx).kind).toBe('noisy-top-k');
    expect(() => createGate({ type: 'expert-choice' } as never, ctx)).toThrow('createGate: unknown gate type "expert-choice"');
  });
});

describe('diagnosticsAsync', () => {
  it('reads back what diagnostics reads, for every gate kind, and leaves the gate in its mode', async () => {
    const x = randn([7, 3], { rng: new Rng(21), std: 3 });
    const gates: Gate[] = [
      new DSelectKGate({ numExperts: 5, k: 2, rng: new Rng(22) }),
      new DSelectKGate({ numExperts: 4, k: 2, perExample: true, inputDim: 3, rng: new Rng(23) }),
      new SoftmaxGate({ numExperts: 4, inputDim: 3, rng: new Rng(24) }),
      new TopKGate({ numExperts: 4, inputDim: 3, k: 2, rng: new Rng(25) }),
      new NoisyTopKGate({ numExperts: 4, inputDim: 3, k: 2, rng: new Rng(26) }),
    ];
    // One static selector saturated (binary), the other not: the binary fraction is 1/2, not 0 or 1.
    setParam(gates[0]!, 'z', [0.9, -0.9, 0.9, 0.1, 0.2, -0.3]);
    for (const gate of gates) {
      const sync = gate.diagnostics(x);
      gate.train(true);
      const got = await gate.diagnosticsAsync(x);
      expect(got, gate.constructor.name).toEqual(sync);
      expect(gate.training).toBe(true);
    }
    expect((await gates[0]!.diagnosticsAsync()).binarySelectorFraction).toBe(0.5);
    expect((await gates[2]!.diagnosticsAsync(x)).binarySelectorFraction).toBeNull();
    await expect(gates[1]!.diagnosticsAsync()).rejects.toThrow('DSelectKGate.diagnostics: a per-example gate needs inputs x [B, 3]');
  });
});
