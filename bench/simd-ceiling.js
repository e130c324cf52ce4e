// The WebAssembly SIMD ceiling of this machine for a matrix product: FMA-free f32x4 multiply + add
// (SIMD128 has no fused multiply-add), measured two ways on one thread:
//  - "registers": 12 independent accumulators, acc += x·y, no memory traffic at all;
//  - "micro-kernel": the gemm micro-kernel's own loop shape (MR rows × NR columns of accumulators,
//    a packed A column splatted from memory, a packed B row loaded as vectors) on panels that sit in
//    L1, for MR×NR = 4×8 (ours), 5×8, 6×8, 3×12, 4×12.
// Best of several runs by process CPU time (steadier than wall time on a shared machine), next to the
// gemm itself at n = 256 and 1024 on the same thread.
//
//   npm run build && node bench/simd-ceiling.js
import os from 'node:os';
import { assembleModule, FunctionBuilder, I32, V128 } from '../dist/kernels/cpu/wasm/assembler.js';
import { gemmWasm } from '../dist/kernels/cpu/gemm-wasm.js';
import { heapFloat32 } from '../dist/kernels/cpu/heap.js';

/** loop(iters, out): 12 accumulators acc[i] += x[i mod 4]·y[i div 4], y updated by one add per iteration. */
function registerLoop() {
  const f = new FunctionBuilder('loop', 2);
  const [iters, out] = [0, 1];
  const acc = Array.from({ length: 12 }, () => f.local(V128));
  const x = Array.from({ length: 4 }, () => f.local(V128));
  const y = Array.from({ length: 3 }, () => f.local(V128));
  const d = f.local(V128);
  const c = f.local(I32);
  for (const l of [...x, ...y, d]) f.get(out).v128Load32Splat().set(l);
  f.i32(0).set(c);
  f.doWhile(
    () => {
      for (let v = 0; v < 3; v++) f.get(y[v]).get(d).f32x4Add().set(y[v]);
      for (let r = 0; r < 4; r++) for (let v = 0; v < 3; v++) f.get(acc[r * 3 + v]).get(x[r]).get(y[v]).f32x4Mul().f32x4Add().set(acc[r * 3 + v]);
      f.get(c).i32(1).add().set(c);
    },
    () => f.get(c).get(iters).ltS(),
  );
  for (const a of acc) f.get(out).get(out).v128Load().get(a).f32x4Add().v128Store();
  return { fn: f, flopsPerIter: 4 * (12 * 2 + 3) };
}

/** kern(kc, a, b, c, reps): the micro-kernel loop, MR×(NV·4) accumulators over kc, repeated reps times. */
function microKernel(mr, nv) {
  const f = new FunctionBuilder('kern', 5);
  const [kc, a0, b0, cp, reps] = [0, 1, 2, 3, 4];
  const acc = Array.from({ length: mr * nv }, () => f.local(V128));
  const bv = Array.from({ length: nv }, () => f.local(V128));
  const av = f.local(V128);
  const [ap, bp, end, rep] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  f.i32(0).set(rep);
  f.doWhile(
    () => {
      for (const l of acc) f.v128Zero().set(l);
      f.get(a0).set(ap);
      f.get(b0).set(bp);
      f.get(bp).get(kc).i32(nv * 16).mul().add().set(end);
      f.doWhile(
        () => {
          for (let v = 0; v < nv; v++) f.get(bp).v128Load(16 * v).set(bv[v]);
          for (let r = 0; r < mr; r++) {
            f.get(ap).v128Load32Splat(4 * r).set(av);
            for (let v = 0; v < nv; v++) f.get(acc[r * nv + v]).get(av).get(bv[v]).f32x4Mul().f32x4Add().set(acc[r * nv + v]);
          }
          f.addTo(ap, () => f.i32(mr * 4));
          f.addTo(bp, () => f.i32(nv * 16));
        },
        () => f.get(bp).get(end).ltU(),
      );
      acc.forEach((l, i) => f.get(cp).get(l).v128Store(16 * i));
      f.addTo(rep, () => f.i32(1));
    },
    () => f.get(rep).get(reps).ltS(),
  );
  return f;
}

function instantiate(fn) {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16 });
  const bytes = assembleModule([fn], { shared: false, maximumPages: 16 });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } });
  new Float32Array(memory.buffer).fill(1e-3);
  return exports;
}

/** Best GFLOP/s over `runs` runs of `call` (each doing `flop` float operations), by process CPU time. */
function best(call, flop, runs = 15) {
  call();
  let bestMs = Infinity;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    call();
    const c = process.cpuUsage(c0);
    bestMs = Math.min(bestMs, (c.user + c.system) / 1000);
  }
  return flop / bestMs / 1e6;
}

const rows = [];
const reg = registerLoop();
const loop = instantiate(reg.fn).loop;
const iters = 4e6;
rows.push(['registers only (12 accumulators)', best(() => loop(iters, 0), iters * reg.flopsPerIter)]);
const kc = 256;
for (const [mr, nv] of [[4, 2], [5, 2], [6, 2], [3, 3], [4, 3]]) {
  const kern = instantiate(microKernel(mr, nv)).kern;
  const reps = 8000;
  const [a, b] = [0, kc * mr * 4 + 64];
  rows.push([`micro-kernel loop ${mr}×${nv * 4}${mr === 4 && nv === 2 ? ' (ours)' : ''}`, best(() => kern(kc, a, b, b + kc * nv * 16 + 64, reps), 2 * mr * nv * 4 * kc * reps)]);
}
for (const n of [256, 1024]) {
  const arr = (len) => {
    const h = heapFloat32(len) ?? new Float32Array(len);
    for (let i = 0; i < len; i++) h[i] = Math.sin(i);
    return h;
  };
  const [x, y, z] = [arr(n * n), arr(n * n), arr(n * n)];
  const reps = n === 256 ? 40 : 1;
  rows.push([`our gemm, n = ${n}, 1 thread`, best(() => { for (let r = 0; r < reps; r++) gemmWasm(n, n, n, x, 0, n, 1, y, 0, n, 1, z, 0, n, 1); }, 2 * n ** 3 * reps, 8)]);
}
console.log(`${os.cpus()[0].model}, node ${process.version}, load ${os.loadavg()[0].toFixed(2)} (GFLOP/s by process CPU time, best run)`);
for (const [name, g] of rows) console.log(`${name.padEnd(36)} ${g.toFixed(1)} GFLOP/s`);
