import type { BinaryOp, UnaryOp } from '../backend.js';
import type { Shape } from '../../tensor/shape.js';
import { broadcastStrides, collapseWalk, kernelSource, offsetExpr, splitIndex, stridesFor } from './source.js';

/**
 * Elementwise kernel sources. The formulas are written for float32 GPUs: each avoids overflow the
 * way the cpu twin does (tanh, sigmoid, softplus never exponentiate a positive number), and pow
 * handles the negative bases that GLSL's pow leaves undefined. Bodies read `v` (unary) or `x`, `y`
 * (binary) and end in `return`.
 */
const UNARY_BODY: Record<UnaryOp, string> = {
  neg: 'return -v;',
  exp: 'return Math.exp(v);',
  log: 'return Math.log(v);',
  sqrt: 'return Math.sqrt(v);',
  abs: 'return Math.abs(v);',
  tanh: 'const e = Math.exp(-2 * Math.abs(v));\nconst t = (1 - e) / (1 + e);\nreturn v < 0 ? -t : t;',
  sigmoid: 'if (v >= 0) { return 1 / (1 + Math.exp(-v)); }\nconst e = Math.exp(v);\nreturn e / (1 + e);',
  relu: 'return v > 0 ? v : 0;',
  // log1p(u) for small u by its series: log(1 + u) loses u entirely below float32's epsilon.
  softplus:
    'const u = Math.exp(-Math.abs(v));\nconst l = u < 0.0001 ? u * (1 - 0.5 * u) : Math.log(1 + u);\nreturn (v > 0 ? v : 0) + l;',
  sign: 'return v > 0 ? 1 : (v < 0 ? -1 : 0);',
  step: 'return v > 0 ? 1 : 0;',
  square: 'return v * v;',
  reciprocal: 'return 1 / v;',
};

/** NaN for the kernel languages (GPU.js has no NaN literal; sqrt of a negative is NaN everywhere tested). */
const NAN = 'Math.sqrt(-1 - y * y)';

const BINARY_BODY: Record<BinaryOp, string> = {
  add: 'return x + y;',
  sub: 'return x - y;',
  mul: 'return x * y;',
  div: 'return x / y;',
  pow:
    'if (x > 0) { return Math.pow(x, y); }\n' +
    'if (y === 0) { return 1; }\n' +
    'if (x === 0) { return y > 0 ? 0 : Infinity; }\n' +
    `if (Math.floor(y) !== y) { return ${NAN}; }\n` +
    'const p = Math.pow(-x, y);\n' +
    'const h = y * 0.5;\n' +
    'return Math.floor(h) === h ? p : -p;',
  maximum: 'return (x > y || x !== x) ? x : y;',
  minimum: 'return (x < y || x !== x) ? x : y;',
  eq: 'return x === y ? 1 : 0;',
  ne: 'return x !== y ? 1 : 0;',
  lt: 'return x < y ? 1 : 0;',
  le: 'return x <= y ? 1 : 0;',
  gt: 'return x > y ? 1 : 0;',
  ge: 'return x >= y ? 1 : 0;',
};

export interface SourceSpec {
  key: string;
  source: () => string;
  /**
   * A 2-D launch of the same kernel for webgpu: `height` rows of `width` threads (GPU.js then uses
   * 8×8 workgroups, whose threads share rows and columns of their inputs in cache), with `source` taking
   * its flat index from this.thread.y·width + this.thread.x. The result has the flat layout either way.
   */
  grid?: { width: number; height: number; source: () => string };
  /**
   * The element offset the source applies to each input (by position among the inputs), for inputs
   * that are parts of a larger buffer (see `KernelDevice.split`). An input whose offset differs from
   * this (0 when absent) is first copied into a buffer of its own.
   */
  inputOffsets?: readonly number[];
}

/** How each input of an elementwise kernel is read at output index `this.thread.x`. */
interface ReadPlan {
  key: string;
  /** Statements computing the coordinates (empty when no input needs them). */
  prelude: string;
  /** One index expression per input. */
  index: string[];
}

/** Plans reads of inputs (broadcast to `outShape`) with as few index splits as the strides allow. */
function planReads(shapes: readonly Shape[], outShape: Shape): ReadPlan {
  const walk = collapseWalk(
    outShape,
    shapes.map((s) => broadcastStrides(s, outShape)),
  );
  const contiguous = stridesFor(walk.dims);
  let needSplit = false;
  const index = walk.strides.map((st) => {
    if (st.every((s) => s === 0)) return '0';
    if (st.every((s, k) => s === contiguous[k])) return 'this.thread.x';
    needSplit = true;
    return offsetExpr('c', st);
  });
  return {
    key: `${walk.dims.join('x')}:${walk.strides.map((st) => st.join(',')).join(';')}`,
    prelude: needSplit ? splitIndex('this.thread.x', walk.dims, 'c') : '',
    index,
  };
}

export function unarySource(op: UnaryOp, size: number): SourceSpec {
  return {
    key: `unary:${op}:${size}`,
    source: () => kernelSource(['a'], `const v = a[this.thread.x];\n${UNARY_BODY[op]}\n`),
  };
}

export function binarySource(op: BinaryOp, aShape: Shape, bShape: Shape, outShape: Shape): SourceSpec {
  const plan = planReads([aShape, bShape], outShape);
  return {
    key: `binary:${op}:${plan.key}`,
    source: () =>
      kernelSource(['a', 'b'], `${plan.prelude}const x = a[${plan.index[0]}];\nconst y = b[${plan.index[1]}];\n${BINARY_BODY[op]}\n`),
  };
}

/** out = cond != 0 ? a : b, all three broadcast to `outShape`. */
export function whereSource(condShape: Shape, aShape: Shape, bShape: Shape, outShape: Shape): SourceSpec {
  const plan = planReads([condShape, aShape, bShape], outShape);
  return {
    key: `where:${plan.key}`,
    source: () =>
      kernelSource(
        ['c', 'a', 'b'],
        `${plan.prelude}if (c[${plan.index[0]}] !== 0) { return a[${plan.index[1]}]; }\nreturn b[${plan.index[2]}];\n`,
      ),
  };
}

/** Clamp with the bounds as arguments (values, not sizes: one kernel serves every bound). */
export function clampSource(size: number): SourceSpec {
  return {
    key: `clamp:${size}`,
    source: () => kernelSource(['a', 'low', 'high'], 'const v = a[this.thread.x];\nreturn v < low ? low : (v > high ? high : v);\n'),
  };
}

/** Copies `size` elements (the upload kernel on GL modes). */
export function copySource(size: number): SourceSpec {
  return { key: `copy:${size}`, source: () => kernelSource(['a'], 'return a[this.thread.x];\n') };
}

/** Every element set to the `value` argument. */
export function fillSource(size: number): SourceSpec {
  return { key: `fill:${size}`, source: () => kernelSource(['value'], 'return value;\n') };
}
