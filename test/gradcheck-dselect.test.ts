import { describe, expect, it } from 'vitest';
import { dselectGradcheckCases } from '../src/checks/index.js';

/** The DSelect-k suite's configurations (its cases run in gradcheck.test.ts with every other suite). */
describe('DSelect-k core gradient checks', () => {
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
});
