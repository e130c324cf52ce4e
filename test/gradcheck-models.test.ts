import { describe, expect, it } from 'vitest';
import { formatGradcheckReport, gradcheck } from '../src/index.js';
import { modelGradcheckCases } from '../src/checks/index.js';

describe('gradcheck: layers, losses, gates and whole models (float64)', () => {
  for (const c of modelGradcheckCases) {
    it(c.name, () => {
      const report = gradcheck(c.fn, c.inputs(), c.opts);
      if (!report.passed) throw new Error(`${c.name}\n${formatGradcheckReport(report)}`);
      expect(report.passed).toBe(true);
      expect(report.checkedElements).toBeGreaterThan(0);
    });
  }
});
