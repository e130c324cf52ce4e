import { gradcheck, type GradcheckCase } from '../autograd/gradcheck.js';
import { gradcheckSuites as allSuites, type GradcheckSuite } from '../checks/index.js';
import { fromTypedArray } from '../tensor/creation.js';
import { formatTable } from '../report/table.js';
import { createProgress, progressEnabled } from './progress.js';
import { UserError } from '../experiments/user-error.js';

/** The float64 gradient-check suites a user runs to verify an installation. */
export function gradcheckSuites(): GradcheckSuite[] {
  const suites = allSuites();
  if (process.env[BROKEN_CASE_ENV] === '1') suites.push({ name: 'self-test', cases: [deliberatelyWrongCase()] });
  return suites;
}

/** Test hook: adds a case whose gradient is wrong on purpose, to prove failures are reported (exit 1). */
const BROKEN_CASE_ENV = 'DSELECT_K_TEST_BROKEN_GRADCHECK';

function deliberatelyWrongCase(): GradcheckCase {
  return {
    name: 'deliberately wrong gradient',
    // x·x + ½(x·x̄ − x̄·x̄) with x̄ = detach(x) equals x², but its backward gives 2.5x instead of 2x
    fn: (x) => x!.mul(x!).add(x!.mul(x!.detach()).sub(x!.detach().mul(x!.detach())).mul(0.5)),
    inputs: () => [fromTypedArray(Float64Array.from([0.3, -1.2, 2]), [3])],
  };
}

export interface GradcheckCommandOptions {
  filter?: string;
  list: boolean;
  quiet: boolean;
}

export interface GradcheckOutcome {
  suite: string;
  name: string;
  passed: boolean;
  elements: number;
  maxAbsError: number;
  maxErrorRatio: number;
  seconds: number;
  failure: string | null;
}

/** Runs the selected cases, prints a pass/fail table and returns the process exit code. */
export function runGradcheckCommand(opts: GradcheckCommandOptions, out: (line: string) => void): number {
  const selected = gradcheckSuites().flatMap((s) =>
    s.cases.filter((c) => opts.filter === undefined || c.name.includes(opts.filter) || s.name.includes(opts.filter)).map((c) => ({ suite: s.name, c })),
  );
  if (selected.length === 0) throw new UserError(`gradcheck: no case matches --filter '${opts.filter}'`);
  if (opts.list) {
    for (const { suite, c } of selected) out(`${suite}  ${c.name}`);
    return 0;
  }
  const progress = createProgress(progressEnabled(opts.quiet));
  progress.start(selected.length, 'gradcheck');
  const outcomes: GradcheckOutcome[] = [];
  selected.forEach(({ suite, c }, i) => {
    progress.update(i, { label: c.name.slice(0, 30) });
    outcomes.push(runCase(suite, c));
  });
  progress.stop();
  const rows = outcomes.map((o) => [
    o.suite,
    o.name,
    String(o.elements),
    o.failure && o.elements === 0 ? '-' : o.maxAbsError.toExponential(2),
    o.failure && o.elements === 0 ? '-' : o.maxErrorRatio.toFixed(3),
    o.seconds.toFixed(2),
    o.passed ? 'pass' : 'FAIL',
  ]);
  out(formatTable(['suite', 'case', 'elements', 'max |a−n|', 'err/tol', 'seconds', 'result'], rows, ['left', 'left']));
  const failed = outcomes.filter((o) => !o.passed);
  for (const f of failed) out(`FAIL ${f.suite}/${f.name}: ${f.failure}`);
  out(`${outcomes.length - failed.length} passed, ${failed.length} failed (float64 central differences, |a−n| ≤ atol + rtol·|n|)`);
  return failed.length === 0 ? 0 : 1;
}

function runCase(suite: string, c: GradcheckCase): GradcheckOutcome {
  const started = performance.now();
  try {
    const r = gradcheck(c.fn, c.inputs(), c.opts);
    return {
      suite,
      name: c.name,
      passed: r.passed,
      elements: r.checkedElements,
      maxAbsError: r.maxAbsError,
      maxErrorRatio: r.maxErrorRatio,
      seconds: (performance.now() - started) / 1000,
      failure: r.passed ? null : (r.failures[0] ?? 'failed'),
    };
  } catch (e) {
    return {
      suite,
      name: c.name,
      passed: false,
      elements: 0,
      maxAbsError: Number.NaN,
      maxErrorRatio: Number.NaN,
      seconds: (performance.now() - started) / 1000,
      failure: `threw: ${firstLine((e as Error).message)}`,
    };
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
