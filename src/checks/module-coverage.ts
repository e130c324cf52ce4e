import { Module } from '../nn/module.js';
import { Gate } from '../moe/gate.js';
import { createGate, gateTypes, type GateSpec, type GateType } from '../moe/gate-factory.js';
import type { GradcheckSuite } from './index.js';
import { isModuleCase } from './models.js';

/** A Module subclass (abstract ones included), as found among a package entry's exports. */
export type ModuleClass = abstract new (...args: never[]) => Module;

/** The Module subclasses among `exports` (an entry point's namespace), by exported name. */
export function exportedModuleClasses(exports: Readonly<Record<string, unknown>>): Map<string, ModuleClass> {
  const out = new Map<string, ModuleClass>();
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value === 'function' && (value === Module || value.prototype instanceof Module)) out.set(name, value as ModuleClass);
  }
  return out;
}

/** Every module inside each module-level case of `suites` (the whole tree, depth first). */
function checkedModules(suites: readonly GradcheckSuite[]): { module: Module; caseName: string }[] {
  return suites.flatMap((s) => s.cases.filter(isModuleCase).flatMap((c) => c.module().modules().map((module) => ({ module, caseName: `${s.name}: ${c.name}` }))));
}

export interface ModuleCoverage {
  /** Exported class name → the cases whose module tree holds an instance of exactly that class. */
  covered: Map<string, string[]>;
  /** Exported classes with no such case and no exemption. */
  missing: string[];
}

/**
 * Whether every exported Module subclass is checked by a module-level gradient check (an instance of
 * exactly that class somewhere in a case's module tree). `exempt` names the classes that need none
 * (abstract bases, modules without parameters), each with the reason.
 */
export function moduleCoverage(classes: ReadonlyMap<string, ModuleClass>, suites: readonly GradcheckSuite[], exempt: ReadonlyMap<string, string>): ModuleCoverage {
  const found = checkedModules(suites);
  const covered = new Map<string, string[]>();
  const missing: string[] = [];
  for (const [name, cls] of classes) {
    const cases = [...new Set(found.filter((f) => f.module.constructor === cls).map((f) => f.caseName))];
    if (cases.length > 0) covered.set(name, cases);
    else if (!exempt.has(name)) missing.push(name);
  }
  return { covered, missing };
}

/** A gate kind in one regime: static (one weight vector per task) or per-example. */
export interface GateRegime {
  kind: string;
  perExample: boolean;
}

const regimeName = (r: GateRegime): string => `${r.kind} (${r.perExample ? 'per-example' : 'static'})`;

/**
 * Every gate kind and regime `createGate` can build, found by asking it for each type in both regimes
 * and keeping what it really built (a type that ignores `perExample` yields one regime).
 */
export function buildableGateRegimes(types: readonly GateType[] = gateTypes): GateRegime[] {
  const out = new Map<string, GateRegime>();
  for (const type of types) {
    for (const perExample of [false, true]) {
      let gate: Gate;
      try {
        gate = createGate({ type, k: 1, perExample } as GateSpec, { numExperts: 4, inputDim: 3 });
      } catch {
        continue;
      }
      const regime = { kind: gate.kind, perExample: gate.perExample };
      out.set(regimeName(regime), regime);
    }
  }
  return [...out.values()];
}

/** The gate regimes with no module-level case whose module tree holds such a gate, by name. */
export function missingGateRegimes(regimes: readonly GateRegime[], suites: readonly GradcheckSuite[]): string[] {
  const checked = new Set(
    checkedModules(suites)
      .map((f) => f.module)
      .filter((m): m is Gate => m instanceof Gate)
      .map((g) => regimeName({ kind: g.kind, perExample: g.perExample })),
  );
  return regimes.map(regimeName).filter((n) => !checked.has(n));
}

