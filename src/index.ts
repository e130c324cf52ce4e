/** dselect-k: Mixture-of-Experts with the DSelect-k gate on a self-contained autodiff engine. */
export * from './tensor/index.js';
export * from './kernels/index.js';
export * from './autograd/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './moe/index.js';
export * from './data/index.js';
