/** dselect-k: Mixture-of-Experts with the DSelect-k gate on a self-contained autodiff engine. */
export * from './tensor/index.js';
export * from './kernels/index.js';
export * from './autograd/index.js';
