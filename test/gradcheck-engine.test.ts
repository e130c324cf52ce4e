import { describe, expect, it } from 'vitest';
import { formatGradcheckReport, gradcheck, mul, tensor, type Tensor } from '../src/index.js';
import { engineGradcheckCases } from '../src/checks/index.js';
import { recordOp } from '../src/autograd/engine.js';

/** Ops whose gradient must be proven by at least one case (matched against the case names). */
const OPS = [
  'add', 'sub', 'mul', 'div', 'neg', 'pow', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'softplus',
  'square', 'reciprocal', 'clamp', 'where', 'maximum', 'minimum', 'matmul', 'sum', 'mean', 'max', 'min',
  'logsumexp', 'softmax', 'logSoftmax', 'cross-entropy',
];

describe('engine gradcheck suite (float64 central differences)', () => {
  it('covers every op, with unique case names', () => {
    const names = engineGradcheckCases.map((c) => c.name);
    expect(new Set(names).size, 'case names are unique').toBe(names.length);
    for (const op of OPS) expect(names.some((n) => n.split(/[\s(]/).includes(op) || n.includes(` ${op}`)), `a case for ${op}`).toBe(true);
  });

  for (const c of engineGradcheckCases) {
    it(c.name, () => {
      const report = gradcheck(c.fn, c.inputs(), c.opts);
      if (!report.passed) expect.fail(formatGradcheckReport(report));
      expect(report.checkedElements).toBeGreaterThan(0);
      expect(report.zeroGradExact).toBe(true);
      expect(report.repeatIdentical).toBe(true);
    });
  }
});

describe('the check itself can fail', () => {
  /** x³ with a deliberately wrong backward. */
  const cubeWith = (backward: (g: Tensor, x: Tensor) => Tensor) => (x: Tensor) =>
    recordOp('badCube', mul(mul(x, x), x).storage, x.shape, [x], (g) => [backward(g, x)]);

  it('reports a wrong gradient with the worst element', () => {
    const x = tensor([0.5, -1.2, 2], { dtype: 'float64' });
    const report = gradcheck(cubeWith((g, xv) => mul(g, mul(xv, xv))), [x]); // 1·x² instead of 3·x²
    expect(report.passed).toBe(false);
    expect(report.worst).not.toBeNull();
    expect(formatGradcheckReport(report)).toMatch(/gradcheck FAILED/);
  });

  it('flags a backward that is not zero for a zero upstream gradient', () => {
    const x = tensor([0.5, -1.2], { dtype: 'float64' });
    const report = gradcheck(cubeWith((g, xv) => mul(mul(mul(xv, xv), 3), g).add(1e-300)), [x]);
    expect(report.zeroGradExact).toBe(false);
    expect(report.passed).toBe(false);
  });
});
