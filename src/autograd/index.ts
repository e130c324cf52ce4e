import './methods.js';

export { isGradEnabled, noGrad, type BackwardOptions } from './engine.js';
export { assertGradcheck, formatGradcheckReport, gradcheck } from './gradcheck.js';
export type { GradcheckCase, GradcheckMismatch, GradcheckOptions, GradcheckReport } from './gradcheck.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export * from './ops/softmax.js';
export * from './ops/shape.js';
export * from './ops/conv.js';
export * from './ops/conv-pool.js';
export * from './ops/fused.js';
export type { TensorLike } from './ops/util.js';
export { engineGradcheckCases } from './checks/index.js';
