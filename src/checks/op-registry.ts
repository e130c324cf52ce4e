import { GENERIC_OPS } from '../autograd/ops/registry.js';
import { OP_PACKS, type OpPack } from '../packs/index.js';

/** One op name that records a backward, where it is defined, and where its gradient checks belong. */
export interface DifferentiableOp {
  name: string;
  definedIn: string;
  /** The case list that must exercise it: 'engine', or the name of its op pack (see `gradcheckCasesByOwner`). */
  owner: string;
  casesIn: string;
}

/**
 * The registry of every differentiable op: the generic ops (each file's own list) and every op pack's
 * `ops`. A name declared twice is an error (the coverage report would not know whose it is).
 */
export function differentiableOps(packs: readonly OpPack[] = OP_PACKS, generic: Readonly<Record<string, readonly string[]>> = GENERIC_OPS): DifferentiableOp[] {
  const ops: DifferentiableOp[] = [];
  for (const [file, names] of Object.entries(generic)) {
    for (const name of names) ops.push({ name, definedIn: file, owner: 'engine', casesIn: 'src/checks/engine/ (engineGradcheckCases)' });
  }
  for (const pack of packs) {
    for (const name of pack.ops) {
      ops.push({ name, definedIn: `op pack '${pack.name}' (src/packs/${pack.name}/index.ts, OpPack.ops)`, owner: pack.name, casesIn: `src/packs/${pack.name}/checks.ts (listed in PACK_GRADCHECK_CASES, src/checks/index.ts)` });
    }
  }
  const seen = new Map<string, DifferentiableOp>();
  for (const op of ops) {
    const first = seen.get(op.name);
    if (first) throw new Error(`differentiableOps: op '${op.name}' is declared twice: in ${first.definedIn} and in ${op.definedIn}`);
    seen.set(op.name, op);
  }
  return ops;
}
