import { installTensorMethods } from './autograd/methods.js';
import { CpuBackend } from './kernels/cpu/backend.js';
import { registerBackend } from './kernels/registry.js';
import { OP_PACKS } from './packs/index.js';

let done = false;

/**
 * Wires the core, once: Tensor methods, the cpu backend and every op pack's cpu kernels. Every entry
 * point (`dselect-k`, `/advanced`, `/node`, `/gpu`, `/experiments`) calls it; nothing is registered by
 * merely importing a module.
 */
export function setupCore(): void {
  if (done) return;
  done = true;
  installTensorMethods();
  registerBackend('cpu', () => new CpuBackend());
  for (const pack of OP_PACKS) pack.registerCpuKernels();
}
