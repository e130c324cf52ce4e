import type { TypedArray } from '../../tensor/dtype.js';

// TODO(moe helper): implement these typed-array kernels.
const todo = (name: string): never => {
  throw new Error(`cpu backend: ${name} is not implemented yet`);
};

export function smoothStepInto(_x: TypedArray, _gamma: number, _derivative: boolean, _out: TypedArray): void {
  todo('smoothStep');
}
export function selectorForwardInto(_s: TypedArray, _rows: number, _m: number, _numExperts: number, _out: TypedArray): void {
  todo('selectorForward');
}
export function selectorBackwardInto(_s: TypedArray, _g: TypedArray, _rows: number, _m: number, _numExperts: number, _out: TypedArray): void {
  todo('selectorBackward');
}
