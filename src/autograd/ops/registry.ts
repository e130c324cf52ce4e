import { CONV_OPS } from './conv.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { MATMUL_OPS } from './matmul.js';
import { REDUCE_OPS } from './reduce.js';
import { SHAPE_OPS } from './shape.js';
import { SOFTMAX_OPS } from './softmax.js';

/**
 * Every name the generic ops record in the autograd graph, keyed by the file that defines them (each
 * file declares its own list next to its ops). Op packs declare theirs in `OpPack.ops`. The gradcheck
 * coverage test holds this registry, and nothing else, to the cases in src/checks.
 */
export const GENERIC_OPS: Readonly<Record<string, readonly string[]>> = {
  'src/autograd/ops/elementwise.ts': ELEMENTWISE_OPS,
  'src/autograd/ops/reduce.ts': REDUCE_OPS,
  'src/autograd/ops/matmul.ts': MATMUL_OPS,
  'src/autograd/ops/softmax.ts': SOFTMAX_OPS,
  'src/autograd/ops/shape.ts': SHAPE_OPS,
  'src/autograd/ops/conv.ts': CONV_OPS,
};
