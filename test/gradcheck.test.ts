import { describe, expect, it } from 'vitest';
import { formatGradcheckReport, gradcheck } from '../src/index.js';
import { gradcheckSuites } from '../src/checks/index.js';

/**
 * Every float64 gradient check of every suite (the same list `dselect-k gradcheck` runs): engine ops,
 * op packs, the DSelect-k core, layers/gates/models and the CNN models. Which ops, modules and gate
 * kinds these cases must cover is checked in gradcheck-coverage.test.ts.
 */
for (const suite of gradcheckSuites()) {
  describe(`gradcheck suite '${suite.name}' (float64 central differences)`, () => {
    it('has cases, with unique names', () => {
      const names = suite.cases.map((c) => c.name);
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n, i) => names.indexOf(n) !== i), 'duplicate case names').toEqual([]);
    });

    for (const c of suite.cases) {
      it(c.name, () => {
        const report = gradcheck(c.fn, c.inputs(), c.opts);
        if (!report.passed) expect.fail(`${suite.name}: ${c.name}\n${formatGradcheckReport(report)}`);
        expect(report.checkedElements).toBeGreaterThan(0);
        expect(report.zeroGradExact).toBe(true);
        expect(report.repeatIdentical).toBe(true);
      });
    }
  });
}
