// dselect-k as a user gets it: the built package in dist/ (npm run bench builds it first).
export async function loadOurs() {
  const dk = { ...(await import('../../dist/index.js')), ...(await import('../../dist/advanced.js')) };
  (await import('../../dist/node/worker-threads.js')).useWorkerThreads();
  const config = await import('../../dist/kernels/cpu/matmul-config.js');
  const wasm = await import('../../dist/kernels/cpu/gemm-wasm.js');
  return { dk, config, shutdownWorkers: wasm.shutdownGemmWorkers };
}

/** A row of ours with the given matmul settings; `build(dk)` returns { run(): Tensor, dispose?() }. */
export function oursImpl(ours, { name, kernel = 'auto', threads = 1, note = '' }, build) {
  return {
    name,
    kind: 'ours',
    threads,
    note,
    activate: async () => {
      ours.config.configureMatmul({ kernel, threads });
    },
    prepare() {
      const inst = build(ours.dk);
      let last = null;
      return {
        run() {
          last?.dispose();
          last = inst.run();
        },
        result: () => last.toArray(),
        dispose() {
          last?.dispose();
          inst.dispose?.();
          ours.config.configureMatmul({ kernel: 'auto', threads: 1 });
        },
      };
    },
  };
}

/** Seeded uniform [-1, 1) float32 data (an LCG: no dependence on either engine's RNG). */
export function uniformData(length, seed) {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
