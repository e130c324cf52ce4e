import { wasmGemmAvailable } from './gemm-wasm.js';
import { setKernelThreads } from './threads/kernel-threads.js';
import { workerSpawner } from './threads/spawner.js';

/**
 * Which matmul kernel the cpu backend runs, and on how many threads.
 * - kernel 'auto' (default): WebAssembly SIMD when the engine has it, else the plain-JS kernel;
 *   'wasm' insists on SIMD (an error where there is none); 'js' forces the plain-JS kernel.
 * - threads (default 1): the WebAssembly kernels split large calls across this many threads
 *   (workers on the shared heap; needs a worker spawner, which `useWorkerThreads()` of
 *   `dselect-k/node` installs): products from 2^18 multiply-adds per thread, elementwise ops,
 *   fused chains and softmax from 2^15 elements per thread, the fused conv-pool kernels their
 *   batch (from 2^21 multiply-adds per layer). Workers start on first use.
 */
export type MatmulKernelChoice = 'auto' | 'wasm' | 'js';

export interface MatmulSettings {
  kernel: MatmulKernelChoice;
  threads: number;
}

export interface MatmulInfo extends MatmulSettings {
  /** The kernel that runs for products big enough to be packed: 'wasm-simd' or 'js'. */
  running: 'wasm-simd' | 'js';
}

const settings: MatmulSettings = { kernel: 'auto', threads: 1 };

export function configureMatmul(opts: Partial<MatmulSettings>): MatmulInfo {
  const { kernel, threads } = opts;
  if (kernel !== undefined) {
    if (kernel !== 'auto' && kernel !== 'wasm' && kernel !== 'js') {
      throw new Error(`configureMatmul: unknown kernel ${JSON.stringify(kernel)} (expected 'auto', 'wasm' or 'js')`);
    }
    if (kernel === 'wasm' && !wasmGemmAvailable()) {
      throw new Error(`configureMatmul: kernel 'wasm' needs WebAssembly SIMD, which this JS engine does not provide`);
    }
    settings.kernel = kernel;
  }
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`configureMatmul: threads must be an integer ≥ 1, got ${threads}`);
    if (threads > 1 && !workerSpawner()) {
      throw new Error(
        `configureMatmul: threads = ${threads} needs worker threads and none can be started here; ` +
          "in Node call useWorkerThreads() from 'dselect-k/node' first (in a browser, setWorkerSpawner with a Web Worker spawner)",
      );
    }
    settings.threads = threads;
    setKernelThreads(threads);
  }
  return matmulInfo();
}

export function matmulSettings(): Readonly<MatmulSettings> {
  return settings;
}

export function matmulInfo(): MatmulInfo {
  const running = settings.kernel !== 'js' && wasmGemmAvailable() ? 'wasm-simd' : 'js';
  return { ...settings, running };
}
