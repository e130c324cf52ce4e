// TensorFlow.js (dev dependency only) with its cpu and wasm backends, the wasm binaries taken from
// the installed @tensorflow/tfjs-backend-wasm package (no network).
import { createRequire, register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageVersion } from './machine.js';

export async function loadTfjs(log) {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dir = fileURLToPath(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url));
    wasm.setWasmPaths(dir);
    await registerGradients();
    const available = [];
    for (const name of ['cpu', 'wasm']) {
      if (await tf.setBackend(name)) available.push(name);
      else log(`TensorFlow.js backend '${name}' failed to initialise; its rows are skipped`);
    }
    let wasmFeatures = {};
    if (available.includes('wasm')) {
      wasmFeatures = {
        simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
        multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
      };
    }
    return { tf, available, version: packageVersion('@tensorflow/tfjs-core'), wasmFeatures };
  } catch (err) {
    log(`TensorFlow.js not loaded (${err?.message ?? err}); comparison rows are skipped`);
    return null;
  }
}

/**
 * TF.js implementations of a workload, one per available backend. `build(tf)` creates the inputs on
 * the active backend and returns { run(): Tensor, dispose() }; the last output is kept for the check.
 */
export function tfjsImpls(tfjs, build) {
  if (!tfjs) return [];
  return tfjs.available.map((backend) => ({
    name: `tfjs-${backend}`,
    kind: `tfjs-${backend}`,
    threads: 1,
    note: backend === 'wasm' ? `TF.js ${tfjs.version} wasm (simd ${tfjs.wasmFeatures.simd}, threads ${tfjs.wasmFeatures.multithread})` : `TF.js ${tfjs.version} cpu`,
    activate: () => tfjs.tf.setBackend(backend),
    prepare() {
      const inst = build(tfjs.tf);
      let last = null;
      return {
        run() {
          last?.dispose();
          last = inst.run();
        },
        result: () => last.dataSync(),
        dispose() {
          last?.dispose();
          inst.dispose();
        },
      };
    },
  }));
}

/**
 * TF.js's gradient functions (for the rows that time a backward pass, e.g. softmax cross-entropy):
 * tfjs-core's bundles carry none, so its per-file ES module registrations are loaded, as
 * bench/moe-workload.js does; they land in the registry TF.js keeps on globalThis.
 */
async function registerGradients() {
  register('../tfjs-resolve-hook.js', import.meta.url);
  const require = createRequire(import.meta.url);
  const file = require.resolve('@tensorflow/tfjs-core/package.json').replace(/package\.json$/, 'dist/register_all_gradients.js');
  await import(pathToFileURL(file).href);
}
