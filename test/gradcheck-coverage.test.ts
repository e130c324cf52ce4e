import { describe, expect, it } from 'vitest';
import * as advanced from '../src/advanced.js';
import * as core from '../src/index.js';
import * as experiments from '../src/experiments/index.js';
import * as gpuEntry from '../src/gpu/index.js';
import * as nodeEntry from '../src/node/index.js';
import * as onnxEntry from '../src/onnx/index.js';
import { recordOp } from '../src/autograd/engine.js';
import type { GradcheckCase } from '../src/autograd/gradcheck.js';
import { GENERIC_OPS } from '../src/autograd/ops/registry.js';
import { gradcheckCasesByOwner, gradcheckSuites, type GradcheckSuite } from '../src/checks/index.js';
import { buildableGateRegimes, exportedModuleClasses, missingGateRegimes, moduleCoverage, type ModuleClass } from '../src/checks/module-coverage.js';
import { moduleCase } from '../src/checks/models.js';
import { formatOpCoverageGaps, memoizedOpsRecordedBy, opCoverage, opsRecordedBy } from '../src/checks/op-coverage.js';
import { differentiableOps } from '../src/checks/op-registry.js';
import { OP_PACKS, type OpPack } from '../src/packs/index.js';
import { Flatten, MaxPool2d, Module, mul, tensor, type Tensor } from '../src/index.js';
import { TEST_OP_PREFIX } from './test-ops.js';

/**
 * Coverage by construction. The registry of differentiable ops is every generic op file's own list
 * (src/autograd/ops/registry.ts) plus every op pack's `ops`; setup.ts checks after each test file that
 * every op recorded in a graph is in it. Here every gradcheck case is run once and its graph walked:
 * each declared op must be recorded by a case of its own list, and each op a case records must be
 * declared. The same for modules (every exported Module subclass) and gate kinds (every regime the
 * gate factory builds). Then the same checks are shown to fail on registries built to be wrong.
 */
const recorded = memoizedOpsRecordedBy();
const suites = gradcheckSuites();
const ownCases = gradcheckCasesByOwner();
const ops = differentiableOps();

describe('every differentiable op has a gradient check', () => {
  it('each declared op is recorded by a case of its own list, and each recorded op is declared', () => {
    const coverage = opCoverage(ops, ownCases, suites, recorded);
    expect(formatOpCoverageGaps(coverage), 'gradcheck coverage gaps').toBe('');
    expect(coverage.covered.size).toBe(ops.length);
  });

  it('the registry holds every generic op file and every op pack, each name once', () => {
    const names = ops.map((o) => o.name);
    expect(new Set(names).size).toBe(names.length);
    for (const [file, list] of Object.entries(GENERIC_OPS)) for (const n of list) expect(ops).toContainEqual(expect.objectContaining({ name: n, definedIn: file, owner: 'engine' }));
    for (const pack of OP_PACKS) for (const n of pack.ops) expect(ops).toContainEqual(expect.objectContaining({ name: n, owner: pack.name }));
    // The ops the issue named as uncovered or only indirectly covered are in it, with cases of their own.
    for (const n of ['cast', 'expand', 'pad', 'scatterAdd', 'im2col', 'col2im', 'maxPool2d', 'gather', 'slice', 'concat', 'permute', 'reshape', 'sign']) {
      expect(names, n).toContain(n);
    }
    expect(() => differentiableOps([...OP_PACKS, fakePack('shadow', ['matmul'])])).toThrow(
      "differentiableOps: op 'matmul' is declared twice: in src/autograd/ops/matmul.ts and in op pack 'shadow'",
    );
  });

  it('runs each case as gradcheck does: only the inputs it differentiates record a graph', () => {
    const whereCase = ownCases['engine']!.find((c) => c.name === 'where mask [2,3], a [2,3], b [3]')!;
    expect([...opsRecordedBy(whereCase)]).toEqual(['where']);
    const detached: GradcheckCase = { name: 'b only', fn: (a: Tensor, b: Tensor) => mul(a.exp(), b), inputs: () => [tensor([1], F64), tensor([2], F64)], opts: { wrt: [1] } };
    expect([...opsRecordedBy(detached)]).toEqual(['mul']); // exp(a) does not depend on a checked input
  });
});

describe('the op coverage check fails on a registry built to be wrong', () => {
  it.each(ops.map((o) => [o.name, o.owner] as const))("removing every case of its own that records '%s' (%s) is reported", (name, owner) => {
    const without = { ...ownCases, [owner]: ownCases[owner]!.filter((c) => !recorded(c).has(name)) };
    const coverage = opCoverage(ops, without, suites, recorded);
    expect(coverage.missing.map((m) => m.op.name)).toContain(name);
    const message = formatOpCoverageGaps(coverage);
    expect(message).toContain(`op '${name}' (declared in ${ops.find((o) => o.name === name)!.definedIn}) has no gradcheck case of its own`);
    expect(message).toContain(owner === 'engine' ? 'add one to src/checks/engine/' : `add one to src/packs/${owner}/checks.ts`);
  });

  it('an op reached only through another list is not covered, and the message says by what', () => {
    // 'expand' is recorded by model cases too; without the engine's own expand cases it is reported.
    const engine = ownCases['engine']!.filter((c) => !recorded(c).has('expand'));
    const without = { ...ownCases, engine };
    const message = formatOpCoverageGaps(opCoverage(ops, without, suites.map((s) => (s.name === 'engine' ? { ...s, cases: engine } : s)), recorded));
    expect(message).toMatch(/op 'expand' .* \(today only reached indirectly, by 'models: .*'/);
  });

  it('a new pack op without a case is reported, naming the pack and where its cases go', () => {
    const packs = [...OP_PACKS, fakePack('frobnicate', ['frobnicate'])];
    const coverage = opCoverage(differentiableOps(packs), { ...ownCases, frobnicate: [] }, suites, recorded);
    expect(formatOpCoverageGaps(coverage)).toBe(
      "op 'frobnicate' (declared in op pack 'frobnicate' (src/packs/frobnicate/index.ts, OpPack.ops)) has no gradcheck case of its own that records it: " +
        'add one to src/packs/frobnicate/checks.ts (listed in PACK_GRADCHECK_CASES, src/checks/index.ts)',
    );
  });

  it('a new generic op without a case is reported, naming its file', () => {
    const generic = { ...GENERIC_OPS, 'src/autograd/ops/fft.ts': ['fft'] };
    const coverage = opCoverage(differentiableOps(OP_PACKS, generic), ownCases, suites, recorded);
    expect(coverage.missing.map((m) => m.op.name)).toEqual(['fft']);
    expect(formatOpCoverageGaps(coverage)).toMatch(/^op 'fft' \(declared in src\/autograd\/ops\/fft\.ts\) has no gradcheck case of its own .* add one to src\/checks\/engine\//);
  });

  it('an op a case records but nobody declared is reported', () => {
    const name = `${TEST_OP_PREFIX}undeclared`;
    const undeclaredCase: GradcheckCase = {
      name: 'a case of an undeclared op',
      fn: (x: Tensor) => recordOp(name, mul(x, 2).storage, x.shape, [x], (g) => [mul(g, 2)]),
      inputs: () => [tensor([1, 2], F64)],
    };
    const withIt: GradcheckSuite[] = [...suites, { name: 'extra', cases: [undeclaredCase] }];
    const coverage = opCoverage(ops, ownCases, withIt, recorded);
    expect(coverage.undeclared).toEqual([{ name, cases: ['extra: a case of an undeclared op'] }]);
    expect(formatOpCoverageGaps(coverage)).toMatch(/op 'test:undeclared' is recorded by 1 gradcheck case\(s\) .* but declared nowhere: list it next to its definition/);
  });
});

/** Module classes that need no module-level case, each with the reason (proved below where it can be). */
const EXEMPT_MODULES = new Map<string, string>([
  ['Module', 'abstract base class of every layer'],
  ['Gate', 'abstract base class of every gate'],
  ['Flatten', 'no parameters (a reshape)'],
]);
/** For an exemption "no parameters": an instance, to prove it. */
const PARAMETERLESS: Record<string, () => Module> = { Flatten: () => new Flatten() };

const exportedClasses = new Map<string, ModuleClass>(
  [core, advanced, experiments, nodeEntry, gpuEntry, onnxEntry].flatMap((entry) => [...exportedModuleClasses(entry as Record<string, unknown>)]),
);

describe('every exported module and every gate kind has a model-level gradient check', () => {
  it('every exported Module subclass is inside some module-level case', () => {
    const coverage = moduleCoverage(exportedClasses, suites, EXEMPT_MODULES);
    expect(
      coverage.missing.map((n) => `${n} has no module-level gradcheck case: add one (moduleCase) to src/checks/models.ts or src/checks/cnn.ts`),
    ).toEqual([]);
    // The layers of today's models are all found, inside the models that hold them.
    for (const n of ['Linear', 'MLP', 'Conv2d', 'MaxPool2d', 'CnnExpert', 'ModuleList', 'Sequential', 'Dropout', 'LayerNorm', 'Embedding', 'Activation', 'DSelectKGate', 'SoftmaxGate', 'TopKGate', 'NoisyTopKGate', 'BalancedTopKGate', 'MoE', 'MMoE', 'ConvBlock', 'ConvMoELayer', 'ConvMoENet']) {
      expect(coverage.covered.has(n), n).toBe(true);
    }
  });

  it('each exemption is exported and true: abstract bases have covered subclasses, the others have no parameters', () => {
    const coverage = moduleCoverage(exportedClasses, suites, EXEMPT_MODULES);
    for (const [name, reason] of EXEMPT_MODULES) {
      const cls = exportedClasses.get(name);
      expect(cls, `exempt module ${name} is exported`).toBeDefined();
      if (reason.startsWith('abstract')) {
        const subclasses = [...coverage.covered.keys()].filter((n) => exportedClasses.get(n)!.prototype instanceof cls!);
        expect(subclasses.length, `${name} has covered subclasses`).toBeGreaterThan(0);
      } else {
        expect(PARAMETERLESS[name], `an instance of ${name} to prove '${reason}'`).toBeDefined();
        expect(PARAMETERLESS[name]!().parameters()).toEqual([]);
      }
    }
    expect(new MaxPool2d(2).parameters()).toEqual([]); // covered anyway, inside CnnExpert
  });

  it('every gate kind in every regime the factory builds is inside some module-level case', () => {
    const regimes = buildableGateRegimes();
    expect(regimes.length).toBeGreaterThanOrEqual(core.gateTypes.length);
    expect(missingGateRegimes(regimes, suites).map((r) => `gate ${r} has no module-level gradcheck case: add one to src/checks/models.ts`)).toEqual([]);
  });
});

describe('the module and gate coverage checks fail on registries built to be wrong', () => {
  it('removing the cases of the CNN MoE net reports it and the layers only it holds', () => {
    const without = suites.map((s) => ({ ...s, cases: s.cases.filter((c) => !c.name.startsWith('ConvMoENet')) }));
    expect(moduleCoverage(exportedClasses, without, EXEMPT_MODULES).missing.sort()).toEqual(['ConvBlock', 'ConvMoELayer', 'ConvMoENet']);
  });

  it('a newly exported Module subclass without a case is reported', () => {
    class Frobnicator extends Module {}
    const classes = new Map([...exportedClasses, ['Frobnicator', Frobnicator as ModuleClass]]);
    expect(moduleCoverage(classes, suites, EXEMPT_MODULES).missing).toEqual(['Frobnicator']);
    // Once a case holds one, it is covered.
    const withCase: GradcheckSuite = { name: 'extra', cases: [moduleCase('Frobnicator inside a Linear check', () => frobnicatorCheck(new Frobnicator()))] };
    expect(moduleCoverage(classes, [...suites, withCase], EXEMPT_MODULES).missing).toEqual([]);
  });

  it('removing the static softmax gate cases, or a regime nobody checks, is reported', () => {
    const regimes = buildableGateRegimes();
    // Drop every case that checks a static softmax gate (the gate's own case and the models built on it).
    const checksStaticSoftmax = (suite: GradcheckSuite, c: GradcheckCase): boolean =>
      missingGateRegimes([{ kind: 'softmax', perExample: false }], [{ ...suite, cases: [c] }]).length === 0;
    const withoutStaticSoftmax = suites.map((s) => ({ ...s, cases: s.cases.filter((c) => !checksStaticSoftmax(s, c)) }));
    expect(suites.reduce((n, s) => n + s.cases.length, 0) - withoutStaticSoftmax.reduce((n, s) => n + s.cases.length, 0)).toBeGreaterThanOrEqual(2);
    expect(missingGateRegimes(regimes, withoutStaticSoftmax)).toEqual(['softmax (static)']);
    expect(missingGateRegimes([...regimes, { kind: 'expert-choice', perExample: true }], suites)).toEqual(['expert-choice (per-example)']);
  });
});

const F64 = { dtype: 'float64' } as const;

function fakePack(name: string, opNames: string[]): OpPack {
  return { name, ops: opNames, registerCpuKernels: () => {} };
}

/** A module holding `extra` next to a Linear layer, checked through the Linear's output. */
function frobnicatorCheck(extra: Module) {
  class Holder extends Module {
    readonly layer = this.addModule('layer', new core.Linear(2, 2, { rng: new core.Rng(1), dtype: 'float64' }));
    readonly extra = this.addModule('extra', extra);
  }
  const holder = new Holder();
  return { module: holder, data: () => [tensor([[0.5, -1]], F64)], run: (x?: Tensor) => holder.layer.forward(x!).sum() };
}
