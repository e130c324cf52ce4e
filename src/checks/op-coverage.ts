import type { GradcheckCase } from '../autograd/gradcheck.js';
import { tidy } from '../tensor/scope.js';
import { HostStorage } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import type { GradcheckSuite } from './index.js';
import type { DifferentiableOp } from './op-registry.js';

/**
 * The op names a gradient check really exercises: its function is run once on its inputs, with the
 * inputs it differentiates (`opts.wrt`) requiring grad as gradcheck does, and the graph is walked back
 * from the output. An op that appears here is on a path from a checked input to the checked output.
 */
export function opsRecordedBy(c: GradcheckCase): Set<string> {
  const ops = new Set<string>();
  tidy(() => {
    const inputs = c.inputs();
    const wrt = c.opts?.wrt ?? inputs.map((_, i) => i);
    const leaves = inputs.map((t, i) => new Tensor(new HostStorage(t.toArray().slice()), t.shape, wrt.includes(i)));
    const out = c.fn(...leaves);
    const visited = new Set<Tensor>();
    const stack: Tensor[] = [out];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (visited.has(t) || t.node === null) continue;
      visited.add(t);
      ops.add(t.node.op);
      stack.push(...t.node.inputs);
    }
  });
  return ops;
}

/** `opsRecordedBy` with each case run once (share one across several `opCoverage` calls). */
export function memoizedOpsRecordedBy(): (c: GradcheckCase) => Set<string> {
  const memo = new Map<GradcheckCase, Set<string>>();
  return (c) => {
    let names = memo.get(c);
    if (!names) memo.set(c, (names = opsRecordedBy(c)));
    return names;
  };
}

export interface OpCoverage {
  /** Declared op → its own cases (see `DifferentiableOp.owner`) that exercise it. */
  covered: Map<string, string[]>;
  /** Declared ops that none of their own cases exercises, with the other suites' cases that reach them anyway. */
  missing: { op: DifferentiableOp; indirectly: string[] }[];
  /** Ops recorded by some case but declared nowhere (a new op missing from the registry). */
  undeclared: { name: string; cases: string[] }[];
}

/**
 * Which declared ops their own case lists exercise (`ownCases[op.owner]`), and the gaps both ways: a
 * declared op none of its own cases records, and an op some case of `suites` records that no one declared.
 */
export function opCoverage(
  ops: readonly DifferentiableOp[],
  ownCases: Readonly<Record<string, readonly GradcheckCase[]>>,
  suites: readonly GradcheckSuite[],
  recorded: (c: GradcheckCase) => Set<string> = memoizedOpsRecordedBy(),
): OpCoverage {
  const exercisedBy = new Map<string, string[]>();
  for (const suite of suites) {
    for (const c of suite.cases) {
      for (const op of recorded(c)) exercisedBy.set(op, [...(exercisedBy.get(op) ?? []), `${suite.name}: ${c.name}`]);
    }
  }
  const covered = new Map<string, string[]>();
  const missing: OpCoverage['missing'] = [];
  for (const op of ops) {
    const own = (ownCases[op.owner] ?? []).filter((c) => recorded(c).has(op.name)).map((c) => c.name);
    if (own.length > 0) covered.set(op.name, own);
    else missing.push({ op, indirectly: exercisedBy.get(op.name) ?? [] });
  }
  const declared = new Set(ops.map((o) => o.name));
  for (const cases of Object.values(ownCases)) for (const c of cases) for (const op of recorded(c)) if (!exercisedBy.has(op)) exercisedBy.set(op, [c.name]);
  return {
    covered,
    missing,
    undeclared: [...exercisedBy].filter(([name]) => !declared.has(name)).map(([name, cases]) => ({ name, cases })),
  };
}

/** One line per gap, naming the op and where to fix it; '' when there is none. */
export function formatOpCoverageGaps(c: OpCoverage): string {
  return [
    ...c.missing.map(
      ({ op, indirectly }) =>
        `op '${op.name}' (declared in ${op.definedIn}) has no gradcheck case of its own that records it: add one to ${op.casesIn}` +
        (indirectly.length > 0 ? ` (today only reached indirectly, by '${indirectly[0]}'${indirectly.length > 1 ? ` and ${indirectly.length - 1} more` : ''})` : ''),
    ),
    ...c.undeclared.map(
      (u) =>
        `op '${u.name}' is recorded by ${u.cases.length} gradcheck case(s) (e.g. '${u.cases[0]}') but declared nowhere: list it next to its ` +
        `definition (a generic op: its file's list, gathered in src/autograd/ops/registry.ts; a pack op: the pack's OpPack.ops)`,
    ),
  ].join('\n');
}

/** Names recorded in some graph (see `recordedOpNames`) that the registry does not declare, sorted. */
export function undeclaredRecordedOps(recorded: Iterable<string>, ops: readonly DifferentiableOp[], ignore: (name: string) => boolean = () => false): string[] {
  const declared = new Set(ops.map((o) => o.name));
  return [...recorded].filter((n) => !declared.has(n) && !ignore(n)).sort();
}
