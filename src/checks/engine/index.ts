import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { compositeGradcheckCases } from './composite.js';
import { convGradcheckCases } from './conv.js';
import { elementwiseGradcheckCases } from './elementwise.js';
import { matmulGradcheckCases } from './matmul.js';
import { reduceGradcheckCases } from './reduce.js';
import { shapeGradcheckCases } from './shape.js';

/** Every engine op's gradient checks, in one list for the test suite and the CLI. */
export const engineGradcheckCases: readonly GradcheckCase[] = [
  ...elementwiseGradcheckCases,
  ...reduceGradcheckCases,
  ...matmulGradcheckCases,
  ...shapeGradcheckCases,
  ...convGradcheckCases,
  ...compositeGradcheckCases,
];
