import type { CpuBackend } from '../../src/kernels/cpu/backend.js';
import type { GpuBackend } from '../../src/kernels/gpu/backend.js';
import { GpuStorage } from '../../src/kernels/gpu/storage.js';
import type { Storage } from '../../src/tensor/storage.js';
import { worstMismatch, type Tolerance } from './compare.js';
import type { KernelCase } from './kernel-cases.js';

export interface CaseResult {
  group: string;
  name: string;
  /** null when every output matched; else what did not. */
  failure: string | null;
}

/**
 * Runs one kernel case on the cpu backend and on `gpu` and compares every output. The gpu outputs are
 * read with the asynchronous `read()` (which on the synchronous modes is a plain readback), so the
 * same runner serves webgpu; every storage the gpu side made is disposed afterwards.
 */
export async function runKernelCase(c: KernelCase, cpu: CpuBackend, gpu: GpuBackend): Promise<CaseResult> {
  const result = (failure: string | null): CaseResult => ({ group: c.group, name: c.name, failure });
  const want = list(c.run(cpu, c.inputs, 'cpu'));
  const ins = c.inputs.map((x) => gpu.adopt(x));
  const made = new Set<Storage>(ins);
  try {
    const got = list(c.run(gpu, ins, 'gpu'));
    got.forEach((s) => made.add(s));
    if (got.length !== want.length) return result(`${got.length} outputs on the gpu, ${want.length} on the cpu`);
    const tols = c.tol ? c.tol(cpu, c.inputs) : [];
    for (let i = 0; i < got.length; i++) {
      const s = got[i]!;
      if (!(s instanceof GpuStorage)) return result(`output ${i} is not on the device (${s.constructor.name})`);
      const g = await s.read();
      const w = Float32Array.from(want[i]!.readSync());
      const tol: Tolerance | undefined = Array.isArray(tols) ? tols[i] : tols;
      const bad = c.check ? c.check(g, w, i) : tol ? worstMismatch(g, w, tol) : 'no tolerance given';
      if (bad) return result(`output ${i}: ${bad}`);
    }
    return result(null);
  } catch (e) {
    return result(`threw: ${(e as Error).message}`);
  } finally {
    for (const s of made) s.dispose();
  }
}

function list(x: Storage | Storage[]): Storage[] {
  return Array.isArray(x) ? x : [x];
}
