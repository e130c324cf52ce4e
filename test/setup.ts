import { afterAll } from 'vitest';
import { recordedOpNames } from '../src/autograd/engine.js';
import { undeclaredRecordedOps } from '../src/checks/op-coverage.js';
import { differentiableOps } from '../src/checks/op-registry.js';
import { setupCore } from '../src/core-setup.js';
import { TEST_OP_PREFIX } from './test-ops.js';

// Tests import deep modules directly, not only the entry points that wire the core.
setupCore();

// Every op any test of this file recorded in a graph must be declared in the op registry, which the
// gradcheck coverage test holds to the cases: so no op can record a backward without a gradient check.
afterAll(() => {
  const undeclared = undeclaredRecordedOps(recordedOpNames(), differentiableOps(), (name) => name.startsWith(TEST_OP_PREFIX));
  if (undeclared.length > 0) {
    throw new Error(
      `op(s) ${undeclared.map((n) => `'${n}'`).join(', ')} recorded a backward in this file's tests but are declared nowhere: ` +
        "list each next to its definition (a generic op: its file's *_OPS list, gathered in src/autograd/ops/registry.ts; " +
        "a pack op: the pack's OpPack.ops) and give it a gradcheck case (src/checks/engine/ or src/packs/<name>/checks.ts)",
    );
  }
});
