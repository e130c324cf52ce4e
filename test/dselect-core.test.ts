import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { add, dselectKWeights, mul, reachabilityPenalty, selectorBitCount, selectorEntropy, selectorOutputs, smoothStep, sum, tensor, type Tensor } from '../src/index.js';
import { dselectKWeightsWithSelectors, selectorProducts } from '../src/advanced.js';

interface GoldenCase {
  numExperts: number;
  k: number;
  gamma: number;
  z: number[][];
  alpha: number[];
  selectorOutputs: number[][];
  weights: number[];
  entropySum: number;
  reachabilityPenalty: number;
  loss: { c: number[]; entropyWeight: number; formula: string; value: number; gradZ: number[][]; gradAlpha: number[] };
}

// A copy of ../shared/golden/dselect_k.json (float64 reference values for six static gates).
const golden = JSON.parse(readFileSync(new URL('./fixtures/dselect_k.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] };

const f64 = (data: number[] | number[][] | number[][][], requiresGrad = false): Tensor => tensor(data, { dtype: 'float64', requiresGrad });
const values = (t: Tensor): number[] => Array.from(t.toArray());

/** Max |a − b| (relative to max(1, |b|)); fails on length mismatch or non-finite values. */
function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!));
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

const smoothStepRef = (t: number, gamma: number): number =>
  t <= -gamma / 2 ? 0 : t >= gamma / 2 ? 1 : (-2 * t ** 3) / gamma ** 3 + (3 * t) / (2 * gamma) + 0.5;

describe('DSelect-k golden values (float64, six static gates)', () => {
  expect(golden.cases.length).toBe(6);
  for (const [index, g] of golden.cases.entries()) {
    it(`case ${index}: n=${g.numExperts} k=${g.k} γ=${g.gamma}`, () => {
      expect(g.loss.formula).toBe('sum_e c_e*q_e + entropyWeight*entropySum');
      const z = f64(g.z, true);
      const alpha = f64(g.alpha, true);
      const { weights, selectors } = dselectKWeightsWithSelectors(z, alpha, g.numExperts, g.gamma);
      expect(selectors.shape).toEqual([g.k, g.numExperts]);
      expect(weights.shape).toEqual([g.numExperts]);
      expect(maxError(selectors.toArray(), g.selectorOutputs.flat())).toBeLessThan(1e-12);
      expect(maxError(values(selectorOutputs(z, g.numExperts, g.gamma)), g.selectorOutputs.flat())).toBeLessThan(1e-12);
      expect(maxError(weights.toArray(), g.weights)).toBeLessThan(1e-12);
      expect(maxError(values(dselectKWeights(z, alpha, g.numExperts, g.gamma)), g.weights)).toBeLessThan(1e-12);

      const entropy = selectorEntropy(selectors);
      expect(maxError([entropy.item()], [g.entropySum])).toBeLessThan(1e-12);
      expect(maxError([reachabilityPenalty(selectors).item()], [g.reachabilityPenalty])).toBeLessThan(1e-12);

      const loss = add(sum(mul(weights, f64(g.loss.c))), mul(entropy, g.loss.entropyWeight));
      expect(maxError([loss.item()], [g.loss.value])).toBeLessThan(1e-12);
      loss.backward();
      expect(maxError(z.grad!.toArray(), g.loss.gradZ.flat())).toBeLessThan(1e-12);
      expect(maxError(alpha.grad!.toArray(), g.loss.gradAlpha)).toBeLessThan(1e-12);
    });
  }
});

describe('smoothStep', () => {
  it('follows the cubic inside, is constant outside, and takes the constant branch at ±γ/2', () => {
    for (const gamma of [0.5, 1, 2]) {
      const points = [-gamma, -gamma / 2, -gamma / 4, 0, gamma / 4, gamma / 2, gamma * 0.7];
      const x = f64(points, true);
      const y = smoothStep(x, gamma);
      expect(values(y)).toEqual(points.map((t) => smoothStepRef(t, gamma)));
      expect(values(y)[1]).toBe(0);
      expect(values(y)[3]).toBe(0.5);
      expect(values(y)[4]).toBeCloseTo(0.84375, 15);
      expect(values(y)[5]).toBe(1);
      sum(y).backward();
      const grad = values(x.grad!);
      const expected = points.map((t) => (Math.abs(t) >= gamma / 2 ? 0 : (3 / (2 * gamma)) * (1 - (4 * t * t) / (gamma * gamma))));
      expect(maxError(grad, expected)).toBeLessThan(1e-15);
      // Exactly zero (not tiny) outside and at the boundary.
      for (const i of [0, 1, 5, 6]) expect(grad[i]).toBe(0);
      expect(grad[3]).toBe(3 / (2 * gamma));
    }
  });

  it('uses the configured γ (not 1)', () => {
    expect(smoothStep(tensor([0.3]), 2).item()).not.toBe(smoothStep(tensor([0.3]), 1).item());
    expect(smoothStep(tensor([0.3]), 0.5).item()).toBe(1);
  });

  it('works in float32', () => {
    const x = tensor([-0.6, -0.2, 0, 0.1, 0.5, 3], { requiresGrad: true });
    const y = smoothStep(x);
    expect(y.dtype).toBe('float32');
    const expected = [-0.6, -0.2, 0, 0.1, 0.5, 3].map((t) => smoothStepRef(t, 1));
    expect(maxError(y.toArray(), expected)).toBeLessThan(1e-6);
    sum(y).backward();
    expect(x.grad!.dtype).toBe('float32');
    expect(values(x.grad!)[4]).toBe(0);
  });
});

describe('selectorOutputs', () => {
  it('uses ceil(log2 n) bits', () => {
    expect([2, 3, 4, 5, 7, 8, 9, 16, 17].map(selectorBitCount)).toEqual([1, 2, 2, 3, 3, 3, 4, 4, 5]);
  });

  it('codes experts most significant bit first', () => {
    // S(z) = [1, 0] → code 10₂ = expert 2 of 4; S(z) = [0, 1, 1] → code 011₂ = expert 3 of 5.
    expect(values(selectorOutputs(f64([[0.9, -0.7]]), 4))).toEqual([0, 0, 1, 0]);
    expect(values(selectorOutputs(f64([-0.9, 0.6, 2]), 5))).toEqual([0, 0, 0, 1, 0]);
    // Partially saturated: S = [1, 0.5] splits expert 2 and 3 evenly.
    expect(values(selectorOutputs(f64([0.6, 0]), 4))).toEqual([0, 0, 0.5, 0.5]);
  });

  it('matches the product formula for every expert and sums to 1 when n is a power of two', () => {
    const zValues = [0.1, -0.2, 0.35, 0.05];
    for (const gamma of [0.5, 1, 2]) {
      const r = values(selectorOutputs(f64(zValues), 16, gamma));
      const s = zValues.map((t) => smoothStepRef(t, gamma));
      const expected = Array.from({ length: 16 }, (_, e) => s.reduce((p, sj, j) => p * ((e >> (3 - j)) & 1 ? sj : 1 - sj), 1));
      expect(maxError(r, expected)).toBeLessThan(1e-15);
      expect(Math.abs(r.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-14);
    }
  });

  it('drops the mass of unreachable codes when n is not a power of two', () => {
    const r = values(selectorOutputs(f64([0.1, 0.2, -0.1]), 5));
    const total = r.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(1);
    expect(total).toBeGreaterThan(0);
  });

  it('keeps leading dims: [B, k, m] → [B, k, n]', () => {
    const z = f64([[[0.1, 0.2, -0.3]], [[0.4, -0.1, 0.0]]]);
    const r = selectorOutputs(z, 6);
    expect(r.shape).toEqual([2, 1, 6]);
    expect(values(r).slice(6)).toEqual(values(selectorOutputs(f64([0.4, -0.1, 0.0]), 6)));
  });

  it('back-propagates through factors that are exactly 0 or 1 without dividing', () => {
    // s = [0, 1, 0.25] → every expert has a zero factor somewhere, yet ∂r/∂s is not zero.
    const s = f64([0, 1, 0.25], true);
    const r = selectorProducts(s, 8);
    const c = f64([1, 2, 3, 4, 5, 6, 7, 8]);
    sum(mul(r, c)).backward();
    const grad = values(s.grad!);
    expect(grad.every(Number.isFinite)).toBe(true);
    // Brute force: Σ_e c_e·Π_{l≠j} f_{e,l}·(±1).
    const sv = [0, 1, 0.25];
    const expected = sv.map((_, j) => {
      let acc = 0;
      for (let e = 0; e < 8; e++) {
        let p = 1;
        for (let l = 0; l < 3; l++) if (l !== j) p *= (e >> (2 - l)) & 1 ? sv[l]! : 1 - sv[l]!;
        acc += (e + 1) * p * ((e >> (2 - j)) & 1 ? 1 : -1);
      }
      return acc;
    });
    expect(grad).toEqual(expected);
    expect(grad[0]).not.toBe(0);
  });
});

describe('dselectKWeights', () => {
  it('mixes the selectors with softmax(α): static and per example agree row by row', () => {
    const zRows = [
      [[0.1, -0.2, 0.3], [-0.4, 0.05, 0.2]],
      [[0.6, -0.1, 0.0], [0.2, 0.2, -0.7]],
    ];
    const alphaRows = [[0.3, -0.5], [1.2, 0.4]];
    const batched = dselectKWeights(f64(zRows), f64(alphaRows), 6);
    expect(batched.shape).toEqual([2, 6]);
    for (let b = 0; b < 2; b++) {
      const single = dselectKWeights(f64(zRows[b]!), f64(alphaRows[b]!), 6);
      expect(single.shape).toEqual([6]);
      expect(values(batched).slice(6 * b, 6 * b + 6)).toEqual(values(single));
      // q = Σ_i π_i r^(i) by hand.
      const a = alphaRows[b]!;
      const denom = Math.exp(a[0]!) + Math.exp(a[1]!);
      const r = values(selectorOutputs(f64(zRows[b]!), 6));
      const manual = Array.from({ length: 6 }, (_, e) => (Math.exp(a[0]!) * r[e]! + Math.exp(a[1]!) * r[6 + e]!) / denom);
      expect(maxError(values(single), manual)).toBeLessThan(1e-15);
    }
  });

  it('is exactly sparse when every smooth-step is saturated: r one-hot, at most k non-zero weights', () => {
    for (const gamma of [0.5, 1, 2]) {
      const sat = (bit: number, scale: number): number => (bit ? 1 : -1) * gamma * scale;
      // n = 16, k = 3, codes 5, 12, 5 (two selectors agree) → q has exactly 2 non-zeros.
      const codes = [5, 12, 5];
      const z = f64(codes.map((c, i) => [0, 1, 2, 3].map((j) => sat((c >> (3 - j)) & 1, 0.51 + 0.3 * i))));
      const alpha = f64([0.2, -1, 0.7]);
      const { weights, selectors, mixing } = dselectKWeightsWithSelectors(z, alpha, 16, gamma);
      const r = values(selectors);
      for (let i = 0; i < 3; i++) {
        const row = r.slice(16 * i, 16 * i + 16);
        expect(row.filter((v) => v !== 0)).toEqual([1]);
        expect(row.indexOf(1)).toBe(codes[i]);
      }
      const q = values(weights);
      const pi = values(mixing);
      expect(q.filter((v) => v !== 0).length).toBe(2);
      expect(q[5]).toBeCloseTo(pi[0]! + pi[2]!, 15);
      expect(q[12]).toBeCloseTo(pi[1]!, 15);
      expect(Math.abs(q.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-15);
      // Per example (k = 1): each row is its selector's one-hot code.
      const zb = f64([[[sat(1, 0.6), sat(0, 0.6), sat(1, 0.9)]], [[sat(0, 0.7), sat(1, 2), sat(0, 0.55)]]]);
      const qb = values(dselectKWeights(zb, f64([[0.1], [2]]), 5, gamma));
      // Example 0 sits on code 101₂ = 5, unreachable for n = 5: its mass is lost (all zero, no renormalising).
      expect(qb).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    }
  });

  it('float32 matches float64 and back-propagates', () => {
    const zData = [[0.1, -0.2, 0.8], [-0.4, 0.05, 0.2]];
    const aData = [0.3, -0.5];
    const q64 = values(dselectKWeights(f64(zData), f64(aData), 7, 1.5));
    const z32 = tensor(zData, { requiresGrad: true });
    const a32 = tensor(aData, { requiresGrad: true });
    const { weights, selectors } = dselectKWeightsWithSelectors(z32, a32, 7, 1.5);
    expect(weights.dtype).toBe('float32');
    expect(maxError(weights.toArray(), q64)).toBeLessThan(1e-6);
    add(add(sum(mul(weights, tensor([1, -1, 2, 0.5, 0, 3, -2]))), selectorEntropy(selectors)), reachabilityPenalty(selectors)).backward();
    expect(z32.grad!.dtype).toBe('float32');
    expect(values(z32.grad!).every(Number.isFinite)).toBe(true);
    expect(values(a32.grad!).every(Number.isFinite)).toBe(true);
    expect(values(z32.grad!)[2] === 0).toBe(true); // saturated coordinate (±0)
  });
});

describe('regularisers', () => {
  it('entropy of a one-hot selector is −log(1 + 1e-6) (slightly negative), and mean divides by the batch', () => {
    const oneHot = f64([[0, 1, 0, 0]]);
    expect(selectorEntropy(oneHot).item()).toBeCloseTo(-Math.log(1 + 1e-6), 18);
    expect(selectorEntropy(oneHot).item()).toBeLessThan(0);
    const r = f64([[[0.2, 0.8], [0.5, 0.5]], [[0.9, 0.1], [1, 0]], [[0.3, 0.7], [0.6, 0.4]]]);
    const total = selectorEntropy(r).item();
    const manual = values(r).reduce((acc, v) => acc - v * Math.log(v + 1e-6), 0);
    expect(Math.abs(total - manual)).toBeLessThan(1e-14);
    expect(selectorEntropy(r, 'mean').item()).toBeCloseTo(total / 3, 14);
  });

  it('entropy backward is −log(r + ε) − r/(r + ε)', () => {
    const r = f64([[0, 0.25, 0.75]], true);
    selectorEntropy(r).backward();
    const expected = [0, 0.25, 0.75].map((v) => -Math.log(v + 1e-6) - v / (v + 1e-6));
    expect(maxError(values(r.grad!), expected)).toBeLessThan(1e-15);
  });

  it('reachability penalty is Σ 1/Σ_e r_e per selector (and per example)', () => {
    const r = f64([[[0.2, 0.3, 0.1], [0.5, 0.5, 0]], [[0.25, 0.25, 0.25], [1, 0, 0]]], true);
    const p = reachabilityPenalty(r);
    expect(p.item()).toBeCloseTo(1 / 0.6 + 1 + 1 / 0.75 + 1, 14);
    expect(reachabilityPenalty(r, 'mean').item()).toBeCloseTo(p.item() / 2, 14);
    p.backward();
    const g = values(r.grad!);
    expect(g.slice(0, 3).every((v) => Math.abs(v + 1 / 0.36) < 1e-12)).toBe(true);
    expect(g.slice(3, 6)).toEqual([-1, -1, -1]);
  });

  it('diagnoses a selector saturated on unreachable codes instead of returning Infinity/NaN', () => {
    // n = 5: codes 5, 6, 7 are unreachable; selector 1 of example 1 is saturated on code 7 (111₂).
    const z = f64([[[0.1, -0.2, 0.3], [0.05, 0, 0]], [[0.2, 0.1, -0.3], [0.7, 0.6, 0.8]]], true);
    const r = selectorOutputs(z, 5);
    let message = '';
    try {
      reachabilityPenalty(r);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^reachabilityPenalty: selector r\[1,1,:\] of r \[2,2,5\]/);
    expect(message).toContain('unreachable');
    expect(message).toContain('codes 5..7');
    expect(message).toContain('z[1,1] = [0.7, 0.6, 0.8]');
    expect(message).toContain('code 7 (binary 111');
    expect(message).toContain('Fix:');
    // Without the z behind it (r built by hand), still a clear error.
    expect(() => reachabilityPenalty(f64([[0.5, 0.5, 0], [0, 0, 0]]))).toThrow(/selector r\[1,:\] of r \[2,3\] puts zero mass/);
    expect(() => reachabilityPenalty(f64([[0.5, NaN, 0]]))).toThrow(/non-finite/);
  });
});

describe('bad input', () => {
  const z = f64([[0.1, 0.2], [0.3, -0.1]]);
  const alpha = f64([0.1, 0.2]);
  it('rejects bad numExperts and gamma, naming the parameter and value', () => {
    expect(() => selectorOutputs(f64([[]]), 1)).toThrow('selectorOutputs: numExperts must be an integer ≥ 2, got 1');
    expect(() => selectorOutputs(z, 2.5)).toThrow('selectorOutputs: numExperts must be an integer ≥ 2, got 2.5');
    expect(() => dselectKWeights(z, alpha, 0)).toThrow('dselectKWeights: numExperts must be an integer ≥ 2, got 0');
    expect(() => dselectKWeights(z, alpha, NaN)).toThrow('dselectKWeights: numExperts must be an integer ≥ 2, got NaN');
    for (const gamma of [0, -1, NaN, Infinity]) {
      expect(() => smoothStep(z, gamma)).toThrow(`smoothStep: gamma must be a finite number > 0, got ${gamma}`);
      expect(() => selectorOutputs(z, 4, gamma)).toThrow(`selectorOutputs: gamma must be a finite number > 0, got ${gamma}`);
      expect(() => dselectKWeights(z, alpha, 4, gamma)).toThrow(`dselectKWeights: gamma must be a finite number > 0, got ${gamma}`);
    }
  });

  it('rejects a z whose last dim is not ceil(log2 n)', () => {
    expect(() => selectorOutputs(z, 5)).toThrow('selectorOutputs: z [2,2] must have last dim m = ceil(log2(numExperts)) = 3 for numExperts = 5, got 2');
    expect(() => dselectKWeights(z, alpha, 8)).toThrow(/dselectKWeights: z \[2,2\] must have last dim m = ceil\(log2\(numExperts\)\) = 3/);
    expect(() => selectorOutputs(f64(0.5 as unknown as number[]), 2)).toThrow(/z \[\] must have last dim/);
  });

  it('rejects z/alpha shape and dtype mismatches, naming both', () => {
    expect(() => dselectKWeights(z, f64([0.1, 0.2, 0.3]), 4)).toThrow(
      'dselectKWeights: alpha [3] does not match z [2,2]: expected alpha [2]',
    );
    expect(() => dselectKWeights(f64([[[0.1, 0.2]], [[0.3, 0.4]]]), f64([0.1, 0.2]), 4)).toThrow(
      'dselectKWeights: alpha [2] does not match z [2,1,2]: expected alpha [2,1]',
    );
    expect(() => dselectKWeights(f64([0.1, 0.2]), f64([0.1]), 4)).toThrow('dselectKWeights: z must be [k, m] (static) or [B, k, m] (per example), got [2]');
    expect(() => dselectKWeights(z, tensor([0.1, 0.2]), 4)).toThrow('dselectKWeights: dtype mismatch: z float64 [2,2] and alpha float32 [2]');
    expect(() => dselectKWeights(z, [0.1, 0.2] as unknown as Tensor, 4)).toThrow('dselectKWeights: alpha must be a Tensor');
  });

  it('rejects an unknown reduction', () => {
    const r = f64([[0.5, 0.5]]);
    expect(() => selectorEntropy(r, 'max' as 'sum')).toThrow("selectorEntropy: reduction must be 'sum' or 'mean', got max");
    expect(() => reachabilityPenalty(r, 'none' as 'sum')).toThrow("reachabilityPenalty: reduction must be 'sum' or 'mean', got none");
  });
});
