import { describe, expect, it } from 'vitest';
import { confidenceInterval, holmAdjust, logGamma, regularizedIncompleteBeta, studentTCdf, studentTQuantile, summarise, welchTTest } from '../src/report/stats.js';
import { expertSelectionQuality, selectionNmi } from '../src/report/selection.js';

describe('regularised incomplete beta and the t distribution', () => {
  it('matches closed forms', () => {
    for (const x of [0.01, 0.3, 0.5, 0.77, 0.999]) {
      expect(regularizedIncompleteBeta(x, 1, 1)).toBeCloseTo(x, 14);
      expect(regularizedIncompleteBeta(x, 3, 1)).toBeCloseTo(x ** 3, 14);
      expect(regularizedIncompleteBeta(x, 1, 4)).toBeCloseTo(1 - (1 - x) ** 4, 14);
    }
    expect(regularizedIncompleteBeta(0.5, 7.3, 7.3)).toBeCloseTo(0.5, 14);
    // I_0.4(2, 3) = Σ_{j=2..4} C(4, j) 0.4^j 0.6^(4−j)
    expect(regularizedIncompleteBeta(0.4, 2, 3)).toBeCloseTo(0.5248, 14);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  it('matches reference values (scipy.special.betainc, scipy.stats.t.cdf)', () => {
    expect(regularizedIncompleteBeta(0.3, 2.5, 3.7)).toBeCloseTo(0.31900317528430866, 12);
    expect(regularizedIncompleteBeta(0.1, 0.5, 0.5)).toBeCloseTo(0.20483276469913345, 12);
    expect(regularizedIncompleteBeta(0.45, 50, 60)).toBeCloseTo(0.4642352914306031, 12);
    expect(regularizedIncompleteBeta(0.9, 0.005, 2)).toBeCloseTo(0.9999730728259048, 12);
    expect(studentTCdf(2.0, 10)).toBeCloseTo(0.9633059826146299, 12);
    expect(studentTCdf(-1.3, 3.5)).toBeCloseTo(0.1362977079021851, 12);
    expect(studentTCdf(0.7, 123.4)).toBeCloseTo(0.7573775581858071, 12);
    expect(studentTCdf(5, 1.2)).toBeCloseTo(0.9523617510932622, 12);
  });

  it('matches the Cauchy (ν = 1) and ν = 2 closed forms', () => {
    for (const t of [-7, -1.5, -0.2, 0, 0.3, 2, 40]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 13);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 13);
    }
  });

  it('rejects invalid arguments by name', () => {
    expect(() => regularizedIncompleteBeta(1.2, 1, 1)).toThrow(/x must be in \[0, 1\], got 1.2/);
    expect(() => studentTCdf(1, 0)).toThrow(/degrees of freedom must be > 0, got 0/);
  });
});

describe("Welch's t-test", () => {
  it('matches scipy.stats.ttest_ind(equal_var=False)', () => {
    const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    const r = welchTTest(a, b)!;
    expect(r.t).toBeCloseTo(-2.455356398286006, 12);
    expect(r.df).toBeCloseTo(24.988529290231416, 10);
    expect(r.p).toBeCloseTo(0.021378001462866992, 12);
    const s = welchTTest([0.81, 0.79, 0.85], [0.7, 0.74, 0.69, 0.72])!;
    expect(s.t).toBeCloseTo(5.000000000000011, 10);
    expect(s.df).toBeCloseTo(3.525655489868681, 10);
    expect(s.p).toBeCloseTo(0.01035809712821509, 12);
  });

  it('is undefined for fewer than two values or zero variance', () => {
    expect(welchTTest([1], [2, 3])).toBeNull();
    expect(welchTTest([1, 1], [2, 2])).toBeNull();
    expect(summarise([2, 4, 6])).toEqual({ n: 3, mean: 4, std: 2 });
  });
});

describe('expert-selection quality', () => {
  const groups = [0, 0, 1, 1];
  it('is 1 when each group has its own experts and 0 when selection ignores the groups', () => {
    const perfect = [
      [0.5, 0.5, 0, 0],
      [0.5, 0.5, 0, 0],
      [0, 0, 0.3, 0.7],
      [0, 0, 0.3, 0.7],
    ];
    expect(expertSelectionQuality(perfect, groups)).toEqual({ quality: 1, withinGroupOverlap: 1, acrossGroupOverlap: 0 });
    const uniform = Array.from({ length: 4 }, () => [0.25, 0.25, 0.25, 0.25]);
    expect(expertSelectionQuality(uniform, groups)!.quality).toBeCloseTo(0, 15);
    const swapped = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [1, 0, 0, 0],
      [0, 1, 0, 0],
    ];
    // same-group tasks disjoint, cross-group pairs identical half the time
    expect(expertSelectionQuality(swapped, groups)!.quality).toBeCloseTo(-0.5, 15);
  });

  it('normalises each task profile (a gate losing mass to unreachable codes is not penalised)', () => {
    const scaled = [
      [0.25, 0.25, 0, 0],
      [0.5, 0.5, 0, 0],
      [0, 0, 0.1, 0.1],
      [0, 0, 0.5, 0.5],
    ];
    expect(expertSelectionQuality(scaled, groups)!.quality).toBeCloseTo(1, 15);
  });

  it('needs pairs inside and across groups, and consistent shapes', () => {
    expect(expertSelectionQuality([[1, 0], [0, 1]], [0, 1])).toBeNull();
    expect(() => expertSelectionQuality([[1, 0]], [0, 1])).toThrow(/1 weight rows but 2 group labels/);
  });
});

describe('confidence intervals and multiple comparisons', () => {
  it("Student's t quantiles match tables and invert the CDF", () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706204736174707, 9);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.302652729911275, 9);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764451051977987, 9);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.2621571627982, 9);
    expect(studentTQuantile(0.975, 29)).toBeCloseTo(2.045229642132703, 9);
    expect(studentTQuantile(0.025, 9)).toBeCloseTo(-2.2621571627982, 9);
    expect(studentTQuantile(0.5, 3)).toBe(0);
    for (const [p, df] of [[0.9, 3.5], [0.999, 12], [0.6, 1.5]] as const) expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 12);
    expect(() => studentTQuantile(1, 3)).toThrow(/p must be in \(0, 1\), got 1/);
  });

  it('95% CI of the mean: t_{0.975, n−1} · s / √n, undefined for one value', () => {
    const ci = confidenceInterval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ci.mean).toBe(5.5);
    expect(ci.halfWidth).toBeCloseTo((2.2621571627982 * Math.sqrt(110 / 12)) / Math.sqrt(10), 10);
    expect(confidenceInterval([3]).halfWidth).toBeNaN();
  });

  it("Holm's step-down adjustment (as statsmodels' multipletests 'holm')", () => {
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(adjusted[i]).toBeCloseTo(v, 15));
    expect(holmAdjust([null, 0.01, 0.02])).toEqual([null, 0.02, 0.02]);
    expect(holmAdjust([0.6, 0.9])).toEqual([1, 1]);
    expect(holmAdjust([])).toEqual([]);
  });
});

describe('selection NMI (the reproduce protocol\'s selection metric)', () => {
  const oneHot = (experts: number[], n: number): number[][] => experts.map((e) => Array.from({ length: n }, (_, j) => (j === e ? 1 : 0)));
  it("equals scikit-learn's normalized_mutual_info_score when each task selects one expert", () => {
    expect(selectionNmi(oneHot([0, 0, 1, 1], 3), [0, 0, 1, 1])).toBeCloseTo(1, 14);
    expect(selectionNmi(oneHot([0, 1, 0, 1], 3), [0, 0, 1, 1])).toBeCloseTo(0, 14);
    // The group is determined by the expert, not the other way round: 2 ln 2 / (ln 2 + 1.5 ln 2) = 0.8.
    expect(selectionNmi(oneHot([0, 0, 1, 2], 3), [0, 0, 1, 1])).toBeCloseTo(0.8, 14);
    // Group labels and expert ids are arbitrary names.
    expect(selectionNmi(oneHot([2, 2, 0, 0], 3), [7, 7, 3, 3])).toBeCloseTo(1, 14);
  });

  it('reads soft profiles as distributions over experts, normalised per task', () => {
    // Every task spreads its weight the same way: the expert says nothing about the group.
    expect(selectionNmi([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], [0, 0, 1, 1])).toBeCloseTo(0, 14);
    // Two experts per group, disjoint across groups: I = H(G) = ln 2, H(E) = ln 4.
    const twoEach = [[0.5, 0.5, 0, 0], [0.25, 0.75, 0, 0], [0, 0, 0.6, 0.4], [0, 0, 0.4, 0.6]];
    const pe = [0.1875, 0.3125, 0.25, 0.25];
    const he = -pe.reduce((a, p) => a + p * Math.log(p), 0);
    expect(selectionNmi(twoEach, [0, 0, 1, 1])).toBeCloseTo(Math.log(2) / ((Math.log(2) + he) / 2), 12);
    expect(selectionNmi([[2, 2], [4, 4]], [0, 0])).toBeNull();
    expect(() => selectionNmi([[0, 0], [1, 0]], [0, 1])).toThrow(/task 0 has no positive gate weight/);
  });
});
