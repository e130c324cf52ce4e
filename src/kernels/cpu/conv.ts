import type { Conv2dGeometry, PoolGeometry } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';

// TODO(engine-ops helper): implement these typed-array kernels.
const todo = (name: string): never => {
  throw new Error(`cpu backend: ${name} is not implemented yet`);
};

export function im2colInto(_x: TypedArray, _geo: Conv2dGeometry, _out: TypedArray): void {
  todo('im2col');
}
export function col2imInto(_cols: TypedArray, _geo: Conv2dGeometry, _out: TypedArray): void {
  todo('col2im');
}
export function maxPool2dInto(_x: TypedArray, _geo: PoolGeometry, _values: TypedArray, _argmax: TypedArray): void {
  todo('maxPool2d');
}
export function maxPool2dBackwardInto(_g: TypedArray, _argmax: TypedArray, _geo: PoolGeometry, _out: TypedArray): void {
  todo('maxPool2dBackward');
}
