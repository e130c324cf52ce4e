import { describe, expect, it } from 'vitest';
import { assertGradcheck } from '../src/index.js';
import { dselectGradcheckCases } from '../src/checks/index.js';

describe('DSelect-k core gradients match central differences in float64', () => {
  it('covers static and per-example gates, n = 2,3,5,8,16, k = 1..4, γ = 0.5,1,2', () => {
    const names = dselectGradcheckCases.map((c) => c.name);
    for (const n of [2, 3, 5, 8, 16]) {
      for (let k = 1; k <= 4; k++) {
        expect(names.some((s) => s.includes(`dselectKWeights static n=${n} k=${k} `))).toBe(true);
        expect(names.some((s) => s.includes(`dselectKWeights per-example n=${n} k=${k} `))).toBe(true);
      }
    }
    for (const gamma of [0.5, 1, 2]) expect(names.some((s) => s.includes(`dselectKWeights`) && s.endsWith(`γ=${gamma}`))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  for (const c of dselectGradcheckCases) {
    it(c.name, () => {
      const inputs = c.inputs();
      const report = assertGradcheck(c.fn, inputs, c.opts);
      expect(report.checkedElements).toBeGreaterThan(0);
      expect(report.zeroGradExact).toBe(true);
      expect(report.repeatIdentical).toBe(true);
    });
  }
});
