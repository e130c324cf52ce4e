export * from './types.js';
export * from './synthetic.js';
export * from './registry.js';
export * from './real.js';
export * from './multi-datasets.js';
export * from './dataset-mixture.js';
import { registerMultiDatasets } from './multi-datasets.js';
registerMultiDatasets();
