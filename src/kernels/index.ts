import { CpuBackend } from './cpu/backend.js';
import { registerBackend } from './registry.js';

registerBackend('cpu', () => new CpuBackend());

export type { Backend, BackendInfo, BackendName, BinaryOp, ReduceOp, UnaryOp } from './backend.js';
export { backend, getBackend, registerBackend, setBackend } from './registry.js';
