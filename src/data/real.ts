export * from './idx.js';
export * from './fashion-mnist.js';
export * from './mnist.js';
export * from './multi.js';
