// dselect-k as a user gets it: the built package in dist/ (npm run bench builds it first).
export async function loadOurs() {
  const dk = { ...(await import('../../dist/index.js')), ...(await import('../../dist/advanced.js')) };
  (await import('../../dist/node/worker-threads.js')).useWorkerThreads();
  const config = await import('../../dist/kernels/cpu/matmul-config.js');
  const wasm = await import('../../dist/kernels/cpu/gemm-wasm.js');
  return { dk, config, shutdownWorkers: wasm.shutdownGemmWorkers };
}

/**
 * A row of ours with the given kernel settings (matmul kernel, threads for every kernel, elementwise
 * fusion on or off); `build(dk)` returns { run(): Tensor, dispose?() }.
 */
export function oursImpl(ours, { name, kernel = 'auto', threads = 1, fusion = true, note = '' }, build) {
  return {
    name,
    kind: 'ours',
    threads,
    note,
    activate: async () => {
      ours.config.configureMatmul({ kernel, threads });
      ours.dk.configureFusion({ enabled: fusion });
    },
    prepare() {
      const inst = build(ours.dk);
      let last = null;
      return {
        run() {
          last?.dispose();
          last = inst.run();
          // A deferred (pending elementwise) result is computed now, inside the timed call.
          last.settle?.();
        },
        result: () => last.toArray(),
        dispose() {
          last?.dispose();
          inst.dispose?.();
          ours.config.configureMatmul({ kernel: 'auto', threads: 1 });
          ours.dk.configureFusion({ enabled: true });
        },
      };
    },
  };
}

/** Our rows of a workload: one per thread count in ctx.threads (named "<name> ×N threads" past 1). */
export function oursThreadImpls(ctx, { name, note = '', ...settings }, build) {
  return ctx.threads.map((threads) =>
    oursImpl(ctx.ours, { ...settings, name: threads > 1 ? `${name} ×${threads} threads` : name, threads, note: threads > 1 ? `${note}${note ? ', ' : ''}${threads} threads (worker_threads)` : note }, build),
  );
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
