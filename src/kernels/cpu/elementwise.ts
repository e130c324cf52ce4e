import type { BinaryOp, UnaryOp } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { stridesOf, type Shape } from '../../tensor/shape.js';

/**
 * Elementwise kernels are generated once per op from an expression template, so the hot loop is a
 * plain monomorphic loop with the expression inlined: no per-element closure call or allocation.
 * Unary expressions read `x` and may use the scratch number `t`; binary ones read `x` and `y`.
 * Arithmetic runs in JS doubles and is rounded once when stored into a float32 output.
 */
const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-x',
  exp: 'Math.exp(x)',
  log: 'Math.log(x)',
  sqrt: 'Math.sqrt(x)',
  abs: 'Math.abs(x)',
  tanh: 'Math.tanh(x)',
  // Both branches only ever exponentiate a non-positive number, so neither overflows.
  sigmoid: '(x >= 0 ? 1 / (1 + Math.exp(-x)) : ((t = Math.exp(x)), t / (1 + t)))',
  // Branch-free for random signs (x > 0 ? x : 0 mispredicts about half the time, ~4× slower here);
  // + 0 turns −0 into 0, and the rare NaN (from x = −∞ or NaN) is sorted out by a predictable branch.
  relu: '((t = x * +(x > 0) + 0) === t ? t : x !== x ? x : 0)',
  softplus: '(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))',
  sign: 'Math.sign(x)',
  // A 0/1 from a comparison compiles to a flag move, not a branch (random signs mispredict ~50%).
  step: '+(x > 0)',
  square: 'x * x',
  reciprocal: '1 / x',
};

const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  pow: 'Math.pow(x, y)',
  // NaN in either operand propagates (as in NumPy), whichever side it is on.
  maximum: '(x > y || x !== x ? x : y)',
  minimum: '(x < y || x !== x ? x : y)',
  eq: '(x === y ? 1 : 0)',
  ne: '(x !== y ? 1 : 0)',
  lt: '(x < y ? 1 : 0)',
  le: '(x <= y ? 1 : 0)',
  gt: '(x > y ? 1 : 0)',
  ge: '(x >= y ? 1 : 0)',
};

type UnaryKernel = (x: TypedArray, out: TypedArray) => void;
type BinaryKernel = (a: TypedArray, b: TypedArray, out: TypedArray, plan: BroadcastPlan) => void;

const unaryCache = new Map<UnaryOp, UnaryKernel>();
const binaryCache = new Map<BinaryOp, BinaryKernel>();

export function unaryKernel(op: UnaryOp): UnaryKernel {
  let k = unaryCache.get(op);
  if (!k) {
    k = new Function(
      'src',
      'out',
      `const n = out.length; let t = 0; for (let i = 0; i < n; i++) { const x = src[i]; out[i] = ${UNARY_EXPR[op]}; }`,
    ) as UnaryKernel;
    unaryCache.set(op, k);
  }
  return k;
}

export function clampInto(x: TypedArray, out: TypedArray, low: number, high: number): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    out[i] = v < low ? low : v > high ? high : v;
  }
}

/**
 * How two (or three) inputs map onto an output: dims collapsed where possible, per-input strides
 * (0 on broadcast dims) and the kind of loop that serves it.
 */
export interface BroadcastPlan {
  kind: 'same' | 'scalarA' | 'scalarB' | 'general';
  /** Collapsed output dims (outermost first) and the matching strides of each input. */
  dims: number[];
  strides: number[][];
}

export function planBroadcast(inputShapes: readonly Shape[], outShape: Shape): BroadcastPlan {
  const rank = outShape.length;
  const aligned = inputShapes.map((s) => {
    const padded = [...new Array<number>(rank - s.length).fill(1), ...s];
    const st = stridesOf(padded);
    return padded.map((d, i) => (d === 1 && outShape[i] !== 1 ? 0 : st[i]!));
  });
  const outSize = outShape.reduce((p, d) => p * d, 1);
  const sizes = inputShapes.map((s) => s.reduce((p, d) => p * d, 1));
  if (sizes.every((n) => n === outSize)) return { kind: 'same', dims: [outSize], strides: [] };
  if (inputShapes.length === 2 && sizes[0] === 1 && sizes[1] === outSize) return { kind: 'scalarA', dims: [outSize], strides: [] };
  if (inputShapes.length === 2 && sizes[1] === 1 && sizes[0] === outSize) return { kind: 'scalarB', dims: [outSize], strides: [] };
  // Merge neighbouring dims when every input walks them as one contiguous (or constant) run.
  const dims: number[] = [];
  const strides: number[][] = inputShapes.map(() => []);
  for (let i = 0; i < rank; i++) {
    const d = outShape[i]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    const mergeable =
      last >= 0 &&
      aligned.every((st, k) => {
        const prev = strides[k]![last]!;
        return prev === st[i]! * d;
      });
    if (mergeable) {
      dims[last] = dims[last]! * d;
      aligned.forEach((st, k) => (strides[k]![last] = st[i]!));
    } else {
      dims.push(d);
      aligned.forEach((st, k) => strides[k]!.push(st[i]!));
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    strides.forEach((s) => s.push(0));
  }
  return { kind: 'general', dims, strides };
}

export function binaryKernel(op: BinaryOp): BinaryKernel {
  let k = binaryCache.get(op);
  if (!k) {
    const e = BINARY_EXPR[op];
    k = new Function(
      'a',
      'b',
      'out',
      'plan',
      `
      const n = out.length;
      if (plan.kind === 'same') { for (let i = 0; i < n; i++) { const x = a[i], y = b[i]; out[i] = ${e}; } return; }
      if (plan.kind === 'scalarA') { const x = a[0]; for (let i = 0; i < n; i++) { const y = b[i]; out[i] = ${e}; } return; }
      if (plan.kind === 'scalarB') { const y = b[0]; for (let i = 0; i < n; i++) { const x = a[i]; out[i] = ${e}; } return; }
      const dims = plan.dims, sa = plan.strides[0], sb = plan.strides[1];
      const rank = dims.length, inner = dims[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
      const idx = new Array(rank).fill(0);
      let pa = 0, pb = 0, o = 0;
      // The innermost run is usually contiguous in both inputs or broadcast in one (a bias row, a
      // per-row scale): those get loops with a single induction variable.
      const mode = ia === 1 && ib === 1 ? 0 : ia === 1 && ib === 0 ? 1 : ia === 0 && ib === 1 ? 2 : 3;
      while (o < n) {
        if (mode === 0) { for (let j = 0; j < inner; j++) { const x = a[pa + j], y = b[pb + j]; out[o + j] = ${e}; } }
        else if (mode === 1) { const y = b[pb]; for (let j = 0; j < inner; j++) { const x = a[pa + j]; out[o + j] = ${e}; } }
        else if (mode === 2) { const x = a[pa]; for (let j = 0; j < inner; j++) { const y = b[pb + j]; out[o + j] = ${e}; } }
        else { let ja = pa, jb = pb; for (let j = 0; j < inner; j++, ja += ia, jb += ib) { const x = a[ja], y = b[jb]; out[o + j] = ${e}; } }
        o += inner;
        for (let d = rank - 2; d >= 0; d--) {
          idx[d]++; pa += sa[d]; pb += sb[d];
          if (idx[d] < dims[d]) break;
          pa -= sa[d] * dims[d]; pb -= sb[d] * dims[d]; idx[d] = 0;
        }
      }`,
    ) as BinaryKernel;
    binaryCache.set(op, k);
  }
  return k;
}

/** Ternary select with broadcasting: out = cond != 0 ? a : b (NaN in cond counts as true). */
export function whereInto(cond: TypedArray, a: TypedArray, b: TypedArray, out: TypedArray, plan: BroadcastPlan): void {
  const n = out.length;
  if (plan.kind === 'same') {
    for (let i = 0; i < n; i++) out[i] = cond[i] !== 0 ? a[i]! : b[i]!;
    return;
  }
  const { dims, strides } = plan;
  const [sc, sa, sb] = strides as [number[], number[], number[]];
  const rank = dims.length;
  const inner = dims[rank - 1]!;
  const ic = sc[rank - 1]!;
  const ia = sa[rank - 1]!;
  const ib = sb[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let pc = 0;
  let pa = 0;
  let pb = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0, jc = pc, ja = pa, jb = pb; j < inner; j++, jc += ic, ja += ia, jb += ib) {
      out[o + j] = cond[jc] !== 0 ? a[ja]! : b[jb]!;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      pc += sc[d]!;
      pa += sa[d]!;
      pb += sb[d]!;
      if (idx[d]! < dims[d]!) break;
      pc -= sc[d]! * dims[d]!;
      pa -= sa[d]! * dims[d]!;
      pb -= sb[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}
