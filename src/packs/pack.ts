/**
 * An op pack: one folder in src/packs holding a fused or domain op whole — the differentiable op
 * and its backward (op.ts), its kernel contract and generic kernels (kernels.ts), its specialised
 * cpu kernels in JS and WebAssembly SIMD (cpu.ts, wasm.ts), its GPU kernel where it has one
 * (gpu.ts), and its float64 gradient checks (checks.ts, imported by the checks only). The pack's
 * index.ts exports the op and this descriptor; src/packs/index.ts lists the packs, and the core's
 * setup registers each with one call.
 */
export interface OpPack {
  /** The folder name. */
  readonly name: string;
  /** The names the pack's differentiable ops record in the autograd graph (their gradcheck cases must cover each). */
  readonly ops: readonly string[];
  /** Installs the pack's specialised cpu kernels. */
  registerCpuKernels(): void;
}
