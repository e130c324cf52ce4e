import { I32, V128, type Local } from './assembler.js';
import { SimdBuilder } from './simd-builder.js';
import { VectorMath } from './vector-math.js';

/**
 * The elementwise WebAssembly SIMD module (float32). Exports, with every pointer a byte address in
 * the imported memory and every length in elements:
 *   un_OP(x, out, n)                     out[i] = OP(x[i])
 *   bin_OP(a, b, out, rows, cols, aRow, bRow, mode)
 *       out is rows × cols, contiguous. Row r of a starts at a + r·aRow (bytes), likewise b;
 *       mode 0: both rows contiguous; 1: b's row is one value broadcast along it; 2: a's is.
 *       (same shape: rows = 1, scalar: mode 1 or 2, a bias row: bRow = 0, a column: bRow = 4.)
 * Lengths need not be multiples of 4: the last 1–3 elements of a run go through the same vector
 * code with partial lane loads and stores, so every element gets the same arithmetic.
 */
export const UNARY_SIMD_OPS = ['neg', 'abs', 'sqrt', 'square', 'reciprocal', 'relu', 'sign', 'step', 'exp', 'log', 'tanh', 'sigmoid', 'softplus'] as const;
export type UnarySimdOp = (typeof UNARY_SIMD_OPS)[number];

export const BINARY_SIMD_OPS = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export type BinarySimdOp = (typeof BINARY_SIMD_OPS)[number];

const SIGN_BIT = -0x80000000;
const ONE_BITS = 0x3f800000;

/** Leaves OP(x) on the stack, x a v128 local (float32 lanes). */
export function emitUnary(f: SimdBuilder, m: VectorMath, op: UnarySimdOp, x: Local): void {
  switch (op) {
    case 'neg':
      f.get(x).i32x4(SIGN_BIT).v128Xor();
      return;
    case 'abs':
      f.get(x).i32x4(0x7fffffff).v128And();
      return;
    case 'sqrt':
      f.get(x).f32x4Sqrt();
      return;
    case 'square':
      f.get(x).get(x).f32x4Mul();
      return;
    case 'reciprocal':
      f.f32x4(1).get(x).f32x4Div();
      return;
    case 'relu':
      // x where x > 0 or NaN, else +0 (so −0 and −∞ give +0, as the JS kernel does).
      f.get(x).get(x).f32x4(0).f32x4Gt().get(x).get(x).f32x4Ne().v128Or().v128And();
      return;
    case 'sign':
      // ±1 carrying x's sign where x ≠ 0 and x is not NaN; x itself (±0, NaN) elsewhere.
      f.get(x).i32x4(SIGN_BIT).v128And().i32x4(ONE_BITS).v128Or();
      f.get(x);
      f.get(x).f32x4(0).f32x4Gt().get(x).f32x4(0).f32x4Lt().v128Or();
      f.v128Bitselect();
      return;
    case 'step':
      f.get(x).f32x4(0).f32x4Gt().i32x4(ONE_BITS).v128And();
      return;
    case 'exp':
      m.exp(x);
      return;
    case 'log':
      m.log(x);
      return;
    case 'tanh':
      m.tanh(x);
      return;
    case 'sigmoid':
      m.sigmoid(x);
      return;
    case 'softplus':
      m.softplus(x);
      return;
  }
}

/** Leaves a OP b on the stack (a, b v128 locals), with the JS kernels' NaN and ±0 behaviour. */
export function emitBinary(f: SimdBuilder, op: BinarySimdOp, a: Local, b: Local): void {
  const mask = (cmp: () => void): void => {
    f.get(a).get(b);
    cmp();
    f.i32x4(ONE_BITS).v128And();
  };
  switch (op) {
    case 'add':
      f.get(a).get(b).f32x4Add();
      return;
    case 'sub':
      f.get(a).get(b).f32x4Sub();
      return;
    case 'mul':
      f.get(a).get(b).f32x4Mul();
      return;
    case 'div':
      f.get(a).get(b).f32x4Div();
      return;
    case 'maximum':
    case 'minimum':
      // (a > b || a is NaN) ? a : b — so a NaN on either side wins, and ties give b.
      f.get(a).get(b).get(a).get(b);
      if (op === 'maximum') f.f32x4Gt();
      else f.f32x4Lt();
      f.get(a).get(a).f32x4Ne().v128Or().v128Bitselect();
      return;
    case 'eq':
      return mask(() => f.f32x4Eq());
    case 'ne':
      return mask(() => f.f32x4Ne());
    case 'lt':
      return mask(() => f.f32x4Lt());
    case 'le':
      return mask(() => f.f32x4Le());
    case 'gt':
      return mask(() => f.f32x4Gt());
    case 'ge':
      return mask(() => f.f32x4Ge());
  }
}

/** Loads `count` (1–3) floats at `ptr` into the low lanes of local `v`; the other lanes are zero or, with `fill`, fill's. */
export function loadPartial(f: SimdBuilder, ptr: Local, count: Local, v: Local, fill?: Local): void {
  if (fill === undefined) f.get(ptr).v128Load32Zero().set(v);
  else f.get(ptr).get(fill).v128Load32Lane(0).set(v);
  for (const lane of [1, 2]) {
    f.ifElse(
      () => f.get(count).i32(lane).gtS(),
      () => f.get(ptr).get(v).v128Load32Lane(lane, 4 * lane).set(v),
    );
  }
}

/** Stores the low `count` (1–3) lanes of local `v` to `ptr`. */
export function storePartial(f: SimdBuilder, ptr: Local, count: Local, v: Local): void {
  f.get(ptr).get(v).v128Store32Lane(0);
  for (const lane of [1, 2]) {
    f.ifElse(
      () => f.get(count).i32(lane).gtS(),
      () => f.get(ptr).get(v).v128Store32Lane(lane, 4 * lane),
    );
  }
}

function unaryKernel(op: UnarySimdOp): SimdBuilder {
  const f = new SimdBuilder(`un_${op}`, 3);
  const [x, out, n] = [0, 1, 2];
  const m = new VectorMath(f);
  const end = f.local(I32);
  const rem = f.local(I32);
  const v = f.local(V128);
  f.get(x).get(n).i32(~3).and().i32(4).mul().add().set(end);
  f.get(n).i32(3).and().set(rem);
  f.forRange(x, end, 16, () => {
    f.get(x).v128Load().set(v);
    f.get(out);
    emitUnary(f, m, op, v);
    f.v128Store();
    f.get(out).i32(16).add().set(out);
  });
  f.ifElse(
    () => f.get(rem),
    () => {
      loadPartial(f, x, rem, v);
      emitUnary(f, m, op, v);
      f.set(v);
      storePartial(f, out, rem, v);
    },
  );
  return f;
}

function binaryKernel(op: BinarySimdOp): SimdBuilder {
  const f = new SimdBuilder(`bin_${op}`, 8);
  const [a, b, out, rows, cols, aRow, bRow, mode] = [0, 1, 2, 3, 4, 5, 6, 7];
  const r = f.local(I32);
  const pa = f.local(I32);
  const pb = f.local(I32);
  const end = f.local(I32);
  const rem = f.local(I32);
  const va = f.local(V128);
  const vb = f.local(V128);
  const vo = f.local(V128);
  f.get(cols).i32(3).and().set(rem);
  f.i32(0).set(r);
  f.forRange(r, rows, 1, () => {
    f.get(a).set(pa);
    f.get(b).set(pb);
    f.get(out).get(cols).i32(~3).and().i32(4).mul().add().set(end);
    // One loop per mode; a broadcast operand is splatted once per row and never advanced.
    const loop = (aVec: boolean, bVec: boolean): void => {
      if (!aVec) f.get(pa).v128Load32Splat().set(va);
      if (!bVec) f.get(pb).v128Load32Splat().set(vb);
      f.forRange(out, end, 16, () => {
        if (aVec) f.get(pa).v128Load().set(va);
        if (bVec) f.get(pb).v128Load().set(vb);
        f.get(out);
        emitBinary(f, op, va, vb);
        f.v128Store();
        if (aVec) f.get(pa).i32(16).add().set(pa);
        if (bVec) f.get(pb).i32(16).add().set(pb);
      });
      f.ifElse(
        () => f.get(rem),
        () => {
          if (aVec) loadPartial(f, pa, rem, va);
          if (bVec) loadPartial(f, pb, rem, vb);
          emitBinary(f, op, va, vb);
          f.set(vo);
          storePartial(f, out, rem, vo);
          f.get(out).get(rem).i32(4).mul().add().set(out);
        },
      );
    };
    f.ifElse(
      () => f.get(mode).eqz(),
      () => loop(true, true),
      () =>
        f.ifElse(
          () => f.get(mode).i32(1).eq(),
          () => loop(true, false),
          () => loop(false, true),
        ),
    );
    f.get(a).get(aRow).add().set(a);
    f.get(b).get(bRow).add().set(b);
  });
  return f;
}

/** The elementwise kernels, to be assembled into a module (with others) over one memory. */
export function elementwiseFunctions(): SimdBuilder[] {
  return [...UNARY_SIMD_OPS.map(unaryKernel), ...BINARY_SIMD_OPS.map(binaryKernel)];
}
