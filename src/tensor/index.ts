export { Tensor } from './tensor.js';
export type { GradNode } from './tensor.js';
export * from './creation.js';
export { Rng, seed, getGlobalRng } from './random.js';
export { tidy, keep } from './scope.js';
export type { DType, TypedArray } from './dtype.js';
export type { Shape } from './shape.js';
export type { Storage } from './storage.js';
