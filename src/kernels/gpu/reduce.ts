import type { ReduceOp } from '../backend.js';
import type { Shape } from '../../tensor/shape.js';
import type { SourceSpec } from './elementwise.js';
import { collapseWalk, kernelSource, lit, offsetExpr, splitIndex, stridesFor } from './source.js';

/**
 * Reductions, argmax and softmax. One thread per output element walks its reduced elements with
 * nested literal-bound loops (no index division inside the loop). A long reduction is split in two
 * passes (partials, then the partials reduced) so that no thread sums more than `CHUNK` values: on a
 * GPU one thread looping a million times is slow, and float32 sums stay accurate in short runs.
 */
export const REDUCE_CHUNK = 1024;

export interface ReducePlan {
  /** Collapsed kept dims (in input order) and their input strides. */
  keptDims: number[];
  keptStrides: number[];
  /** Collapsed reduced dims (outermost first) and their input strides. */
  reducedDims: number[];
  reducedStrides: number[];
  outSize: number;
  reducedSize: number;
}

export function planReduce(shape: Shape, axes: readonly number[]): ReducePlan {
  const strides = stridesFor(shape);
  const kd: number[] = [];
  const ks: number[] = [];
  const rd: number[] = [];
  const rs: number[] = [];
  shape.forEach((d, i) => {
    if (axes.includes(i)) {
      rd.push(d);
      rs.push(strides[i]!);
    } else {
      kd.push(d);
      ks.push(strides[i]!);
    }
  });
  const kept = collapseWalk(kd, [ks]);
  const reduced = collapseWalk(rd, [rs]);
  return {
    keptDims: kept.dims,
    keptStrides: kept.strides[0]!,
    reducedDims: reduced.dims,
    reducedStrides: reduced.strides[0]!,
    outSize: kd.reduce((p, d) => p * d, 1),
    reducedSize: rd.reduce((p, d) => p * d, 1),
  };
}

const INIT: Record<ReduceOp, string> = { sum: '0', max: '-Infinity', min: 'Infinity' };
const STEP: Record<ReduceOp, string> = {
  sum: 'acc += v;',
  // NaN propagates (once acc is NaN neither comparison replaces it), as on the cpu.
  max: 'if (v > acc || v !== v) { acc = v; }',
  min: 'if (v < acc || v !== v) { acc = v; }',
};

/** The reduced dim pass 1 splits into parts: the longest one. */
function splitDim(plan: ReducePlan): number {
  let best = 0;
  plan.reducedDims.forEach((d, k) => {
    if (d > plan.reducedDims[best]!) best = k;
  });
  return best;
}

/**
 * Pass 1 (or the only pass when `parts` is 1): output [outSize, parts]; part p covers the slice
 * [p·chunk, (p+1)·chunk) of the longest reduced dim.
 */
export function reduceSource(op: ReduceOp, plan: ReducePlan, parts: number): SourceSpec {
  const { keptDims, keptStrides, reducedDims, reducedStrides } = plan;
  const split = splitDim(plan);
  const chunk = Math.ceil((reducedDims[split] ?? 1) / parts);
  const key = `reduce:${op}:${keptDims.join('x')}/${keptStrides.join(',')}:${reducedDims.join('x')}/${reducedStrides.join(',')}:p${parts}`;
  const source = (): string => {
    let s = '';
    if (parts > 1) {
      s += splitIndex('this.thread.x', [plan.outSize, parts], 'u');
      s += splitIndex('u0', keptDims, 'c');
    } else {
      s += splitIndex('this.thread.x', keptDims, 'c');
    }
    s += `const base = ${offsetExpr('c', keptStrides)};\n`;
    s += `let acc = ${INIT[op]};\n`;
    let close = '';
    const terms: string[] = [];
    reducedDims.forEach((d, k) => {
      const stride = reducedStrides[k]!;
      if (k === split && parts > 1) {
        s += `for (let r${k} = 0; r${k} < ${lit(chunk)}; r${k}++) {\nconst g${k} = u1 * ${lit(chunk)} + r${k};\nif (g${k} < ${lit(d)}) {\n`;
        close += '}\n}\n';
        terms.push(stride === 1 ? `g${k}` : `g${k} * ${lit(stride)}`);
      } else {
        s += `for (let r${k} = 0; r${k} < ${lit(d)}; r${k}++) {\n`;
        close += '}\n';
        terms.push(stride === 1 ? `r${k}` : `r${k} * ${lit(stride)}`);
      }
    });
    s += `const v = x[base${terms.map((t) => ` + ${t}`).join('')}];\n${STEP[op]}\n${close}return acc;\n`;
    return kernelSource(['x'], s);
  };
  return { key, source };
}

/** Number of partial results per output in pass 1 (1: a single pass), so a thread sums ≤ ~CHUNK values. */
export function reduceParts(plan: ReducePlan): number {
  if (plan.reducedSize <= REDUCE_CHUNK * 4) return 1;
  const longest = plan.reducedDims[splitDim(plan)] ?? 1;
  return Math.max(1, Math.min(longest, Math.ceil(plan.reducedSize / REDUCE_CHUNK)));
}

/** Splits `shape` around `axis` into [outer, n, inner]. */
export function aroundAxis(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[axis]!, inner];
}

/** Index of the first maximum along the middle dim of [outer, n, inner] (as a float). */
export function argmaxSource(outer: number, n: number, inner: number): SourceSpec {
  return {
    key: `argmax:${outer}x${n}x${inner}`,
    source: () =>
      kernelSource(
        ['x'],
        splitIndex('this.thread.x', [outer, inner], 'c') +
          `const base = c0 * ${lit(n * inner)} + c1;\n` +
          'let best = x[base];\nlet at = 0;\n' +
          `for (let k = 1; k < ${lit(n)}; k++) {\nconst v = x[base + k * ${lit(inner)}];\nif (v > best) { best = v; at = k; }\n}\n` +
          'return at;\n',
      ),
  };
}

/**
 * Softmax pass 1: per row of [outer, n, inner] (row = (o, j)), the log-sum-exp max + log Σ exp(x − max).
 * A row of −∞ uses max 0, as on the cpu.
 */
export function logSumExpSource(outer: number, n: number, inner: number): SourceSpec {
  return {
    key: `lse:${outer}x${n}x${inner}`,
    source: () =>
      kernelSource(
        ['x'],
        splitIndex('this.thread.x', [outer, inner], 'c') +
          `const base = c0 * ${lit(n * inner)} + c1;\n` +
          'let mx = -Infinity;\n' +
          `for (let k = 0; k < ${lit(n)}; k++) {\nconst v = x[base + k * ${lit(inner)}];\nif (v > mx) { mx = v; }\n}\n` +
          'if (mx === -Infinity) { mx = 0; }\n' +
          'let s = 0;\n' +
          `for (let k = 0; k < ${lit(n)}; k++) {\ns += Math.exp(x[base + k * ${lit(inner)}] - mx);\n}\n` +
          'return mx + Math.log(s);\n',
      ),
  };
}

/** Softmax pass 2: exp(x − lse) or, for log-softmax, x − lse, lse indexed by the element's row. */
export function softmaxApplySource(outer: number, n: number, inner: number, log: boolean): SourceSpec {
  const walk = collapseWalk([outer, n, inner], [[inner, 0, 1]]);
  return {
    key: `softmaxApply:${log ? 'log' : 'exp'}:${outer}x${n}x${inner}`,
    source: () =>
      kernelSource(
        ['x', 'lse'],
        splitIndex('this.thread.x', walk.dims, 'c') +
          `const l = lse[${offsetExpr('c', walk.strides[0]!)}];\n` +
          (log ? 'return x[this.thread.x] - l;\n' : 'return Math.exp(x[this.thread.x] - l);\n'),
      ),
  };
}
