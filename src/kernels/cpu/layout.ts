import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import { planBroadcast } from './elementwise.js';

// TODO(engine-ops helper): implement these typed-array kernels.
const todo = (name: string): never => {
  throw new Error(`cpu backend: ${name} is not implemented yet`);
};

export function permuteInto(_x: TypedArray, _shape: Shape, _perm: readonly number[], _out: TypedArray): void {
  todo('permute');
}
export function broadcastToInto(x: TypedArray, shape: Shape, outShape: Shape, out: TypedArray): void {
  const plan = planBroadcast([shape], outShape);
  if (plan.kind === 'same') {
    out.set(x);
    return;
  }
  const { dims } = plan;
  const sx = plan.strides[0]!;
  const rank = dims.length;
  const inner = dims[rank - 1]!;
  const innerStride = sx[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let px = 0;
  for (let o = 0; o < out.length; o += inner) {
    if (innerStride === 0) out.fill(x[px]!, o, o + inner);
    else out.set(x.subarray(px, px + inner), o);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      px += sx[d]!;
      if (idx[d]! < dims[d]!) break;
      px -= sx[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}
export function sliceInto(_x: TypedArray, _shape: Shape, _begin: readonly number[], _size: readonly number[], _out: TypedArray): void {
  todo('slice');
}
export function padInto(_x: TypedArray, _shape: Shape, _begin: readonly number[], _outShape: Shape, _out: TypedArray): void {
  todo('pad');
}
export function concatInto(_xs: readonly TypedArray[], _shapes: readonly Shape[], _axis: number, _out: TypedArray): void {
  todo('concat');
}
export function gatherInto(_x: TypedArray, _shape: Shape, _indices: Int32Array, _axis: number, _out: TypedArray): void {
  todo('gather');
}
export function scatterAddInto(_g: TypedArray, _gShape: Shape, _indices: Int32Array, _axis: number, _outShape: Shape, _out: TypedArray): void {
  todo('scatterAdd');
}
export function oneHotInto(_indices: Int32Array, _depth: number, _out: TypedArray): void {
  todo('oneHot');
}
