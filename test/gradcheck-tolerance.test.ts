import { describe, expect, it } from 'vitest';
import { recordOp } from '../src/autograd/engine.js';
import { add, formatGradcheckReport, gradcheck, mul, sign, tensor, type GradcheckOptions, type Tensor } from '../src/index.js';
import { TEST_OP_PREFIX } from './test-ops.js';

/**
 * gradcheck itself: it must catch a backward that is wrong by just more than the tolerance and pass
 * one wrong by just less — PyTorch's rule |analytic − numeric| ≤ atol + rtol·|numeric|, per element.
 */
const F64 = { dtype: 'float64' } as const;
const DEFAULTS = { atol: 1e-5, rtol: 1e-3 };

/**
 * y = slope·x (so the numeric derivative is exact up to float64 rounding, ~1e-10 of the tolerance),
 * with a backward off by `factor` times the tolerance on every element, in the direction of g:
 * slope·g + factor·(atol·sign(g) + rtol·slope·g) = slope·g + sign(g)·factor·(atol + rtol·|slope·g|).
 * A zero upstream gradient still gives exactly zero.
 */
function linearOffBy(slope: number, factor: number, tol: { atol: number; rtol: number }) {
  return (x: Tensor): Tensor =>
    recordOp(`${TEST_OP_PREFIX}linearOffBy`, mul(x, slope).storage, x.shape, [x], (g) => [
      add(mul(g, slope + factor * tol.rtol * slope), mul(sign(g), factor * tol.atol)),
    ]);
}

describe('gradcheck tolerance edge', () => {
  const settings: [string, GradcheckOptions, { atol: number; rtol: number }][] = [
    ['default tolerances (atol 1e-5, rtol 1e-3)', {}, DEFAULTS],
    ['custom tolerances (atol 1e-8, rtol 1e-6)', { atol: 1e-8, rtol: 1e-6 }, { atol: 1e-8, rtol: 1e-6 }],
  ];
  const x = () => [tensor([0.7, -1.3, 2.1, -0.4, 0.05], F64)];

  for (const [label, opts, tol] of settings) {
    for (const slope of [2, 0]) {
      const regime = slope === 0 ? 'atol-dominated (derivative 0)' : 'rtol and atol (derivative 2)';
      it(`${label}, ${regime}: 0.99 × tolerance passes, 1.01 × fails`, () => {
        const below = gradcheck(linearOffBy(slope, 0.99, tol), x(), opts);
        expect(below.passed, formatGradcheckReport(below)).toBe(true);
        expect(below.maxErrorRatio).toBeGreaterThan(0.98);
        expect(below.maxErrorRatio).toBeLessThan(0.995);
        const above = gradcheck(linearOffBy(slope, 1.01, tol), x(), opts);
        expect(above.passed).toBe(false);
        expect(above.maxErrorRatio).toBeGreaterThan(1.005);
        expect(above.maxErrorRatio).toBeLessThan(1.02);
        expect(above.failures).toHaveLength(5); // every element is over
        expect(above.failures[0]).toMatch(/^input 0 \[5\] element 0: analytic .* vs numeric .* \(error .* > .*\)$/);
        // The exact backward passes with a ratio near 0.
        const exact = gradcheck(linearOffBy(slope, 0, tol), x(), opts);
        expect(exact.passed).toBe(true);
        expect(exact.maxErrorRatio).toBeLessThan(1e-3);
      });
    }
  }
});

describe('gradcheck catches the other ways a backward can be wrong', () => {
  /** x³ with a deliberately chosen backward. */
  const cubeWith = (backward: (g: Tensor, x: Tensor) => Tensor) => (x: Tensor) =>
    recordOp(`${TEST_OP_PREFIX}cube`, mul(mul(x, x), x).storage, x.shape, [x], (g) => [backward(g, x)]);

  it('reports a wrong gradient with the worst element', () => {
    const report = gradcheck(cubeWith((g, xv) => mul(g, mul(xv, xv))), [tensor([0.5, -1.2, 2], F64)]); // 1·x² instead of 3·x²
    expect(report.passed).toBe(false);
    expect(report.worst).toMatchObject({ input: 0, index: 2 }); // |error| = 2·x² is largest at x = 2
    expect(formatGradcheckReport(report)).toMatch(/gradcheck FAILED/);
  });

  it('flags a backward that is not zero for a zero upstream gradient', () => {
    const report = gradcheck(cubeWith((g, xv) => mul(mul(mul(xv, xv), 3), g).add(1e-300)), [tensor([0.5, -1.2], F64)]);
    expect(report.zeroGradExact).toBe(false);
    expect(report.passed).toBe(false);
  });

  it('flags a backward that differs between two passes through the same graph', () => {
    let calls = 0;
    const report = gradcheck(cubeWith((g, xv) => mul(mul(mul(xv, xv), 3 + 1e-12 * ++calls), g)), [tensor([0.5, -1.2], F64)]);
    expect(report.repeatIdentical).toBe(false);
    expect(report.passed).toBe(false);
  });
});
