// matmul: ours (WebAssembly SIMD on 1 and 2 threads, the plain-JS kernel) vs a naive triple loop
// vs TensorFlow.js cpu and wasm, float32, n×n·n×n. Transposed operands get their own rows: every
// backward matmul has one, and that is where TF.js's wasm matmul is weak.
import { oursImpl, uniformData } from '../lib/ours.js';
import { tfjsImpls } from '../lib/tfjs.js';
import { torchImpl } from '../lib/torch.js';

export const DEFAULT_SIZES = [64, 128, 256, 512, 1024];
const TRANSPOSED_SIZES = [256, 512];

/** op(A)[i,p] and op(B)[p,j] of row-major n×n storages. */
function indexers(n, transA, transB) {
  return {
    a: transA ? (i, p) => p * n + i : (i, p) => i * n + p,
    b: transB ? (p, j) => j * n + p : (p, j) => p * n + j,
  };
}

/** float64 reference and Σ|a·b| per element; tolerance: float32 summation bound (k+2)·2⁻²⁴·Σ|a·b|. */
function reference(n, a, b, transA, transB) {
  const values = new Float64Array(n * n);
  const magnitude = new Float64Array(n * n);
  const sa = transA ? [1, n] : [n, 1];
  const sb = transB ? [1, n] : [n, 1];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let m = 0;
      for (let p = 0; p < n; p++) {
        const prod = a[i * sa[0] + p * sa[1]] * b[p * sb[0] + j * sb[1]];
        s += prod;
        m += Math.abs(prod);
      }
      values[i * n + j] = s;
      magnitude[i * n + j] = m;
    }
  }
  const scale = (n + 2) * 2 ** -24;
  return { values, tol: (i) => scale * magnitude[i] + 1e-7 };
}

/** The textbook triple loop (i, j, p) on Float32Arrays, summing in a JS double. */
function naiveImpl(n, aData, bData, transA, transB) {
  return {
    name: 'naive triple loop',
    kind: 'naive',
    threads: 1,
    note: 'plain JS, i-j-p order',
    prepare() {
      const c = new Float32Array(n * n);
      const ix = indexers(n, transA, transB);
      const run = transA || transB
        ? () => {
            for (let i = 0; i < n; i++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let p = 0; p < n; p++) s += aData[ix.a(i, p)] * bData[ix.b(p, j)];
                c[i * n + j] = s;
              }
          }
        : () => {
            for (let i = 0; i < n; i++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let p = 0; p < n; p++) s += aData[i * n + p] * bData[p * n + j];
                c[i * n + j] = s;
              }
          };
      return { run, result: () => c };
    },
  };
}

export function matmulWorkloads(ctx, sizes = DEFAULT_SIZES) {
  const { ours, tfjs } = ctx;
  const variants = [];
  for (const n of sizes) variants.push({ n, transA: false, transB: false });
  for (const n of sizes.filter((s) => TRANSPOSED_SIZES.includes(s))) {
    variants.push({ n, transA: false, transB: true });
    variants.push({ n, transA: true, transB: false });
  }
  const cores = ctx.machine.cpus;
  return variants.map(({ n, transA, transB }) => {
    const aData = uniformData(n * n, 1000 + n);
    const bData = uniformData(n * n, 2000 + n);
    const label = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
    const ourBuild = (dk) => {
      const a = dk.fromTypedArray(aData.slice(), [n, n]);
      const b = dk.fromTypedArray(bData.slice(), [n, n]);
      return { run: () => dk.matmul(a, b, { transA, transB }) };
    };
    const impls = [
      oursImpl(ours, { name: 'dselect-k wasm-simd', kernel: 'wasm', threads: 1, note: 'hand-written WebAssembly SIMD kernel' }, ourBuild),
      ...(cores > 1
        ? [oursImpl(ours, { name: `dselect-k wasm-simd ×${cores} threads`, kernel: 'wasm', threads: cores, note: `${cores} threads (worker_threads)` }, ourBuild)]
        : []),
      oursImpl(ours, { name: 'dselect-k js', kernel: 'js', threads: 1, note: 'plain-JS 3×3 register-tiled kernel' }, ourBuild),
      naiveImpl(n, aData, bData, transA, transB),
      ...tfjsImpls(tfjs, (tf) => {
        const a = tf.tensor2d(aData, [n, n]);
        const b = tf.tensor2d(bData, [n, n]);
        return {
          run: () => tf.matMul(a, b, transA, transB),
          dispose: () => {
            a.dispose();
            b.dispose();
          },
        };
      }),
    ];
    const torchSpec = { spec: { op: 'matmul', n, transA, transB }, inputs: () => ({ a: aData, b: bData }) };
    impls.push(...torchImpl(ctx.torch, torchSpec), ...(cores > 1 ? torchImpl(ctx.torch, { ...torchSpec, threads: cores }) : []));
    return {
      suite: 'matmul',
      name: `matmul ${label} n=${n}`,
      flop: 2 * n ** 3,
      reference: () => reference(n, aData, bData, transA, transB),
      impls,
    };
  });
}
