import type { ConvPoolGeometry } from './kernels.js';
import { convKernels, convThreads, runSplit, type ConvExport } from '../../kernels/cpu/conv-wasm-runtime.js';
import { KernelCall } from '../../kernels/cpu/kernel-call.js';
import { runParts } from '../../kernels/cpu/threads/kernel-threads.js';
import { kernelSpace, usableInPlace } from '../../kernels/cpu/kernel-space.js';
import { BPARAM, BPARAM_WORDS, FIXED_REGION_VECTORS } from '../../kernels/cpu/wasm/conv-backward.js';
import { PARAM, PARAM_WORDS, TILE_FILTERS, UNROLLED_KERNEL_WIDTHS } from '../../kernels/cpu/wasm/conv-module.js';
import { WINO_FILTERS, WINO_TILES, WINOGRAD, WPARAM, WPARAM_WORDS, type WinogradSpec } from '../../kernels/cpu/wasm/conv-winograd.js';
import type { KernelInstance } from '../../kernels/cpu/wasm/kernel-module.js';

/**
 * Runs the fused conv → max-pool 2×2 → bias → ReLU layer on WebAssembly SIMD (wasm/conv-module.ts:
 * direct forward; wasm/conv-winograd.ts: Winograd forward; wasm/conv-backward.ts: backward), on one
 * thread or split by images across the kernel threads. The module runs on the kernel space, so heap
 * tensors are read and written where they are (a training step profile had the copies into and out
 * of a private memory at ~8% of the CNN step, all of it on the calling thread); only the buffers
 * whose layout differs from a tensor's (padded planes, Winograd's four-image lanes, padded filter
 * groups) are scratch. Each entry returns false, touching nothing, where it does not apply (no SIMD, a
 * stride other than 1, a pool other than 2, no room); the caller then runs the JS kernels of
 * cpu-reference.ts (which also serve float64).
 *
 * Float32 throughout; sums run in another order than the JS kernels' (im2col + gemm), so values
 * agree to float32 rounding (Winograd: ~1e-5 relative; test/conv-pool.test.ts states the
 * tolerances), and window codes agree except where a window's two largest conv outputs are that close.
 */
/** The geometry the SIMD kernels take, or null when they do not apply. */
interface Plan {
  n: number;
  /** Channels of the input, and per group (the conv of group g sees channels [g·cg, (g + 1)·cg)). */
  c: number;
  cg: number;
  groups: number;
  /** Filters in all, and per group. */
  fg: number;
  h: number;
  w: number;
  f: number;
  kh: number;
  kw: number;
  pad: number;
  /** Prepared (padded) input plane: hp rows of wr floats. */
  hp: number;
  wr: number;
  /** Taps of one filter: cg·kh·kw. */
  k: number;
  pooledH: number;
  pooledW: number;
}

function plan(geo: ConvPoolGeometry, weight: Float32Array): Plan | null {
  if (geo.stride !== 1 || geo.pool !== 2 || geo.pooledH < 1 || geo.pooledW < 1) return null;
  const [n, c, h, w] = geo.inputShape as [number, number, number, number];
  const groups = geo.groups ?? 1;
  if (n < 1 || c % groups !== 0) return null;
  const cg = c / groups;
  const k = cg * geo.kernelH * geo.kernelW;
  const f = weight.length / k;
  if (!Number.isInteger(f) || f % groups !== 0) return null;
  const pad = geo.padding;
  return { n, c, cg, groups, f, fg: f / groups, h, w, kh: geo.kernelH, kw: geo.kernelW, pad, hp: h + 2 * pad, wr: w + 2 * pad, k, pooledH: geo.pooledH, pooledW: geo.pooledW };
}

/** Vector loads may run up to 3 floats past a buffer; scratch gets this much slack, and an operand used in place must have it before the memory's end. */
const SLACK = 64;

/** Scratch of `bytes` (+ slack). */
function scratch(call: KernelCall, bytes: number): number {
  return call.scratch(bytes + SLACK);
}

/** Address of `a` for a kernel that only reads it: in place in the heap, else a scratch copy. */
function readable(call: KernelCall, a: Float32Array): number {
  if (usableInPlace(call.space, a) && a.byteOffset + a.byteLength + SLACK <= call.space.memory.buffer.byteLength) return a.byteOffset;
  const at = scratch(call, a.byteLength);
  if (at >= 0) call.views.f32.set(a, at / 4);
  return at;
}

/** Puts x [N, C, H, W] in the padded layout (planes of hp × wr) at a new scratch buffer; x itself where there is no padding. */
function prepareInput(call: KernelCall, k: KernelInstance<ConvExport>, x: Float32Array, p: Plan): number {
  if (p.pad === 0) return readable(call, x);
  const src = readable(call, x);
  const at = scratch(call, 4 * p.n * p.c * p.hp * p.wr);
  if (src < 0 || at < 0) return -1;
  call.views.f32.fill(0, at / 4, at / 4 + p.n * p.c * p.hp * p.wr);
  const start = at + 4 * (p.pad * p.wr + p.pad);
  k.fns.copy_planes(src, 4 * p.h * p.w, 4 * p.w, start, 4 * p.hp * p.wr, 4 * p.wr, p.n * p.c, p.h, 4 * p.w);
  return at;
}

/** Runs export `name` over [0, count) in `parts` ranges (range 0 on this thread), with the arguments argsOf(start, end). */
function runRanges(k: KernelInstance<ConvExport>, name: ConvExport, count: number, parts: number, argsOf: (start: number, end: number) => number[]): void {
  const fn = k.fns[name];
  const jobs = Array.from({ length: parts }, (_, t) => argsOf(Math.round((t * count) / parts), Math.round(((t + 1) * count) / parts)));
  if (parts <= 1) fn(...jobs[0]!);
  else runParts(k.poolIndex, k.exportIndex[name], jobs, (args) => fn(...args));
}

/** Byte offsets of the taps (c, kh, kw) from a conv position's input origin, plane/row strides in bytes. */
function tapOffsets(p: Plan, planeBytes: number, rowBytes: number): Int32Array {
  const out = new Int32Array(p.k);
  let i = 0;
  for (let c = 0; c < p.cg; c++) for (let kh = 0; kh < p.kh; kh++) for (let kw = 0; kw < p.kw; kw++) out[i++] = c * planeBytes + kh * rowBytes + 4 * kw;
  return out;
}

function rowOffsets(p: Plan, planeBytes: number, rowBytes: number): Int32Array {
  const out = new Int32Array(p.cg * p.kh);
  for (let c = 0; c < p.cg; c++) for (let kh = 0; kh < p.kh; kh++) out[c * p.kh + kh] = c * planeBytes + kh * rowBytes;
  return out;
}

/**
 * values = relu(maxPool2(conv(x, weight)) + bias) [N, F, PH, PW] and codes (window argmax dy·2 + dx,
 * first maximum), float32. Returns the number of threads that ran, or false (nothing written) where
 * the SIMD kernels do not apply.
 */
export function convPoolReluWasm(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  geo: ConvPoolGeometry,
  values: Float32Array,
  codes: Float32Array,
  method: ConvForwardMethod = 'auto',
): number | false {
  const p = plan(geo, weight);
  const k = p && convKernels.instance();
  if (!p || !k) return false;
  const spec = p.kh === p.kw && (p.kh === 3 || p.kh === 5) ? WINOGRAD[p.kh] : null;
  if (method === 'winograd' && !spec) return false;
  if (spec && (method === 'winograd' || (method === 'auto' && p.cg >= WINOGRAD_MIN_CHANNELS))) return winogradForward(k, p, spec, x, weight, bias, values, codes);
  const R = TILE_FILTERS;
  const tiles = Math.ceil(p.fg / R); // filter tiles per group
  const pairs = Math.ceil(R / 2);
  const pairCols = Math.ceil(p.pooledW / 2);
  const rowFloats = 2 * pairCols;
  const planeFloats = p.pooledH * rowFloats;
  const groupFloats = tiles * R * planeFloats;
  const imageFloats = p.groups * groupFloats;
  const exact = p.f * p.pooledH * p.pooledW;
  // The kernel writes whole filter tiles and column pairs: straight into the outputs when that is their layout.
  const compact = imageFloats !== exact;

  const unrolled = (UNROLLED_KERNEL_WIDTHS as readonly number[]).includes(p.kw);
  const table = unrolled ? rowOffsets(p, 4 * p.hp * p.wr, 4 * p.wr) : tapOffsets(p, 4 * p.hp * p.wr, 4 * p.wr);
  const call = new KernelCall(kernelSpace()!);
  const params = scratch(call, 4 * PARAM_WORDS);
  const offsets = scratch(call, 4 * table.length);
  const packed = scratch(call, 4 * tiles * p.k * R);
  const biasPairs = scratch(call, 16 * tiles * pairs);
  const xAt = prepareInput(call, k, x, p);
  const y = compact ? scratch(call, 4 * p.n * imageFloats) : call.output(values);
  const cs = compact ? scratch(call, 4 * p.n * imageFloats) : call.output(codes);
  const yOut = compact ? call.output(values) : y;
  const cOut = compact ? call.output(codes) : cs;
  if (!call.ok || [params, offsets, packed, biasPairs, xAt, y, cs, yOut, cOut].some((a) => a < 0)) return call.abandon(), false;

  const { f32, i32 } = call.views;
  i32.set(table, offsets / 4);
  const P = params / 4;
  i32.fill(0, P, P + PARAM_WORDS);
  i32[P + PARAM.xImage] = 4 * p.c * p.hp * p.wr;
  i32[P + PARAM.xRow] = 4 * p.wr;
  i32[P + PARAM.offsets] = offsets;
  i32[P + PARAM.k] = table.length;
  i32[P + PARAM.weights] = packed;
  i32[P + PARAM.groups] = tiles;
  i32[P + PARAM.biasPairs] = biasPairs;
  i32[P + PARAM.yImage] = 4 * imageFloats;
  i32[P + PARAM.yPlane] = 4 * planeFloats;
  i32[P + PARAM.pooledH] = p.pooledH;
  i32[P + PARAM.pairCols] = pairCols;
  const macs = p.n * tiles * R * p.pooledH * pairCols * 8 * p.k;
  const name: ConvExport = unrolled ? (`cpr_fwd_k${p.kw}` as ConvExport) : 'cpr_fwd';
  const parts = convThreads(k, macs, p.n);
  // One group after another, back to back (the workers stay awake between them).
  for (let g = 0; g < p.groups; g++) {
    // Group g's weights as [tile][k][R] (filters past fg are zero), bias as (b_a, b_a, b_b, b_b) per filter pair.
    f32.fill(0, packed / 4, packed / 4 + tiles * p.k * R);
    for (let fi = 0; fi < p.fg; fi++) {
      const t = Math.floor(fi / R);
      const r = fi - t * R;
      const dst = packed / 4 + t * p.k * R + r;
      const src = (g * p.fg + fi) * p.k;
      for (let kk = 0; kk < p.k; kk++) f32[dst + kk * R] = weight[src + kk]!;
    }
    f32.fill(0, biasPairs / 4, biasPairs / 4 + 4 * tiles * pairs);
    if (bias) {
      for (let fi = 0; fi < p.fg; fi++) {
        const t = Math.floor(fi / R);
        const r = fi - t * R;
        const at = biasPairs / 4 + 4 * (t * pairs + (r >> 1)) + 2 * (r & 1);
        f32[at] = bias[g * p.fg + fi]!;
        f32[at + 1] = bias[g * p.fg + fi]!;
      }
    }
    i32[P + PARAM.x] = xAt + 4 * g * p.cg * p.hp * p.wr;
    i32[P + PARAM.y] = y + 4 * g * groupFloats;
    i32[P + PARAM.codes] = cs + 4 * g * groupFloats;
    runSplit(k, name, p.n, parts, () => params, () => undefined);
  }
  if (compact) {
    // Drop the padded filters and the odd last column: rows (f, qh) of rowFloats → pooledW, group by group.
    const groupExact = p.fg * p.pooledH * p.pooledW;
    for (const [from, to] of [[y, yOut], [cs, cOut]] as const) {
      for (let g = 0; g < p.groups; g++) {
        k.fns.copy_planes(from + 4 * g * groupFloats, 4 * imageFloats, 4 * rowFloats, to + 4 * g * groupExact, 4 * exact, 4 * p.pooledW, p.n, p.fg * p.pooledH, 4 * p.pooledW);
      }
    }
  }
  call.finish();
  return parts;
}

/**
 * How the forward convolves: 'direct' (any kernel) or 'winograd' (3×3 and 5×5 kernels; 'auto' picks
 * it from WINOGRAD_MIN_CHANNELS input channels on).
 */
export type ConvForwardMethod = 'auto' | 'direct' | 'winograd';

/**
 * Winograd's transforms cost about as much as the products they save when few channels share them:
 * measured on the CNN expert, direct wins at 1 input channel, Winograd F(2×2, 5×5) by ~2× at 10.
 */
export const WINOGRAD_MIN_CHANNELS = 4;

function winogradForward(k: KernelInstance<ConvExport>, p: Plan, spec: WinogradSpec, x: Float32Array, weight: Float32Array, bias: Float32Array | null, values: Float32Array, codes: Float32Array): number | false {
  const a = spec.alpha;
  const groups = Math.ceil(p.n / 4); // image groups (four images per vector lane)
  const tiles = p.pooledH * p.pooledW;
  const tilesPad = Math.ceil(tiles / WINO_TILES) * WINO_TILES;
  const filtersPad = Math.ceil(p.fg / WINO_FILTERS) * WINO_FILTERS;
  const planeBytes = 16 * p.hp * p.wr;
  const macs = p.n * p.fg * tiles * 4 * p.k;
  const parts = convThreads(k, macs, groups);
  // The lane kernels read and write four images per group: x and the outputs are used in place when N is a multiple of 4.
  const whole = p.n % 4 === 0;
  const uFloats = a * a * p.cg * filtersPad;

  const call = new KernelCall(kernelSpace()!);
  const blocks = Array.from({ length: parts }, () => scratch(call, 4 * WPARAM_WORDS));
  const staging = whole ? readable(call, x) : scratch(call, 4 * groups * 4 * p.c * p.h * p.w);
  const lanes = scratch(call, groups * p.c * planeBytes);
  const u = scratch(call, 4 * p.groups * uFloats);
  const weights = readable(call, weight);
  const biasAt = scratch(call, 4 * p.f);
  const outBytes = 16 * p.f * tiles;
  const valuesAt = scratch(call, groups * outBytes);
  const codesAt = scratch(call, groups * outBytes);
  const valuesOut = whole ? call.output(values) : scratch(call, groups * outBytes);
  const codesOut = whole ? call.output(codes) : scratch(call, groups * outBytes);
  const work = Array.from({ length: parts }, () => ({
    v: scratch(call, 16 * a * a * p.cg * tilesPad),
    m: scratch(call, 16 * a * a * WINO_FILTERS * WINO_TILES),
    tmp: scratch(call, 16 * a * a),
  }));
  const all = [...blocks, staging, lanes, u, weights, biasAt, valuesAt, codesAt, valuesOut, codesOut, ...work.flatMap((t) => [t.v, t.m, t.tmp])];
  if (!call.ok || all.some((at) => at < 0)) return call.abandon(), false;

  const { f32, i32 } = call.views;
  if (!whole) {
    f32.set(x, staging / 4);
    f32.fill(0, staging / 4 + x.length, staging / 4 + groups * 4 * p.c * p.h * p.w);
  }
  // Without padding to_lanes writes every element; with it, the border stays zero.
  if (p.pad > 0) f32.fill(0, lanes / 4, (lanes + groups * p.c * planeBytes) / 4);
  // The layout changes are memory-bound passes over the whole layer: split over the threads too.
  const imageBytes = 4 * p.c * p.h * p.w;
  runRanges(k, 'to_lanes', groups, parts, (g0, g1) => [staging + 4 * g0 * imageBytes, lanes + g0 * p.c * planeBytes, g1 - g0, p.c, p.h, p.w, p.pad, p.hp, p.wr]);
  // Filter transforms, group by group (each group's filters are contiguous in the weight); the padded filters' U stays zero.
  f32.fill(0, u / 4, u / 4 + p.groups * uFloats);
  for (let g = 0; g < p.groups; g++) k.fns[`wino_filters_r${spec.r}` as ConvExport](weights + 4 * g * p.fg * p.k, u + 4 * g * uFloats, p.fg, p.cg, filtersPad);
  if (bias) f32.set(bias, biasAt / 4);
  else f32.fill(0, biasAt / 4, biasAt / 4 + p.f);
  const name = `wino_fwd_r${spec.r}` as ConvExport;
  // One group after another, back to back (the workers stay awake between them): group g reads its
  // channels of every image group's lanes and writes its filters of every output group.
  for (let g = 0; g < p.groups; g++) {
    blocks.forEach((params, t) => {
      const P = params / 4;
      const s = work[t]!;
      i32.fill(0, P, P + WPARAM_WORDS);
      i32[P + WPARAM.x] = lanes + g * p.cg * planeBytes;
      i32[P + WPARAM.groupBytes] = p.c * planeBytes;
      i32[P + WPARAM.planeBytes] = planeBytes;
      i32[P + WPARAM.rowBytes] = 16 * p.wr;
      i32[P + WPARAM.channels] = p.cg;
      i32[P + WPARAM.pooledH] = p.pooledH;
      i32[P + WPARAM.pooledW] = p.pooledW;
      i32[P + WPARAM.tilesPad] = tilesPad;
      i32[P + WPARAM.v] = s.v;
      i32[P + WPARAM.u] = u + 4 * g * uFloats;
      i32[P + WPARAM.filtersPad] = filtersPad;
      i32[P + WPARAM.filters] = p.fg;
      i32[P + WPARAM.m] = s.m;
      i32[P + WPARAM.tmp] = s.tmp;
      i32[P + WPARAM.bias] = biasAt + 4 * g * p.fg;
      i32[P + WPARAM.values] = valuesAt + 16 * g * p.fg * tiles;
      i32[P + WPARAM.codes] = codesAt + 16 * g * p.fg * tiles;
      i32[P + WPARAM.outGroupBytes] = outBytes;
    });
    runSplit(k, name, groups, parts, (t) => blocks[t]!, () => undefined);
  }
  for (const [from, to] of [[valuesAt, valuesOut], [codesAt, codesOut]] as const) {
    runRanges(k, 'from_lanes', groups, parts, (g0, g1) => [from + g0 * outBytes, to + 4 * g0 * 4 * p.f * tiles, g1 - g0, p.f * tiles]);
  }
  if (!whole) {
    const v = call.views.f32;
    values.set(v.subarray(valuesOut / 4, valuesOut / 4 + values.length));
    codes.set(v.subarray(codesOut / 4, codesOut / 4 + codes.length));
  }
  call.finish();
  return parts;
}

/** Where the backward writes; null for a gradient that is not needed. */
export interface ConvPoolGradOut {
  x: Float32Array | null;
  weight: Float32Array | null;
  bias: Float32Array | null;
}

/**
 * Gradients of convPoolReluWasm's layer for the upstream g [N, F, PH, PW], given its values and
 * codes. Writes (overwrites) the requested outputs; returns the threads that ran, or false (nothing
 * written) where it does not apply.
 */
export function convPoolReluBackwardWasm(
  g: Float32Array,
  values: Float32Array,
  codes: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  geo: ConvPoolGeometry,
  out: ConvPoolGradOut,
): number | false {
  const p = plan(geo, weight);
  const k = p && convKernels.instance();
  if (!p || !k) return false;
  const needW = out.weight !== null || out.bias !== null;
  const needX = out.x !== null;
  const [rh, rw] = [p.kh + 1, p.kw + 1];
  const rs = Math.ceil((rh * rw) / 4) * 4;
  const q = p.pooledH * p.pooledW;
  const xPlane = 4 * p.hp * p.wr;
  const macs = p.n * p.fg * q * 4 * p.k;
  const parts = convThreads(k, macs, p.n);
  const grouped = p.groups > 1;

  const call = new KernelCall(kernelSpace()!);
  const blocks = Array.from({ length: parts }, () => scratch(call, 4 * BPARAM_WORDS));
  const xAt = prepareInput(call, k, x, p);
  const gAt = readable(call, g);
  const yAt = readable(call, values);
  const cAt = readable(call, codes);
  // The kernel takes g, values and codes as [N][filters][Q]: each group's share is gathered, group-major
  // ([G][N][fg][Q]), before the first group runs, so that the groups' runs follow each other at once.
  const [gG, yG, cG] = grouped ? [0, 1, 2].map(() => scratch(call, 4 * p.n * p.f * q)) : [gAt, yAt, cAt];
  const wsh = needX ? scratch(call, 4 * p.fg * p.cg * 4 * rs) : 0;
  const weights = needX ? readable(call, weight) : 0;
  const dw = out.weight ? scratch(call, 4 * weight.length) : 0;
  // The input gradient: straight into out.x without padding (the kernel's writes are exact), else padded planes copied out.
  const dx = needX ? (p.pad === 0 ? call.output(out.x!) : scratch(call, p.n * p.c * xPlane)) : 0;
  const dxOut = needX && p.pad > 0 ? call.output(out.x!) : dx;
  const work = Array.from({ length: parts }, () => ({
    table: scratch(call, 8 * q * p.fg),
    dwsh: needW ? scratch(call, 4 * p.cg * p.fg * 4 * rs) : 0,
    db: scratch(call, 4 * p.fg),
    region: scratch(call, 4 * rs + 16),
  }));
  const all = [...blocks, xAt, gAt, yAt, cAt, gG!, yG!, cG!, wsh, weights, dw, dx, dxOut, ...work.flatMap((t) => [t.table, t.dwsh, t.db, t.region])];
  if (!call.ok || all.some((at) => at < 0)) return call.abandon(), false;

  const { f32, i32 } = call.views;
  if (needX) f32.fill(0, dx / 4, dx / 4 + (p.n * p.c * xPlane) / 4);
  const zeroScratch = (t: number): void => {
    const s = work[t]!;
    const v = call.views.f32;
    if (needW) v.fill(0, s.dwsh / 4, s.dwsh / 4 + p.cg * p.fg * 4 * rs);
    v.fill(0, s.db / 4, s.db / 4 + p.fg);
  };
  const fixed = (FIXED_REGION_VECTORS as readonly number[]).includes(rs / 4);
  const name: ConvExport = fixed ? (`cpr_bwd_r${rs / 4}` as ConvExport) : 'cpr_bwd';
  if (out.weight) f32.fill(0, dw / 4, dw / 4 + weight.length);
  if (grouped) {
    for (const [from, to] of [[gAt, gG!], [yAt, yG!], [cAt, cG!]] as const) {
      for (let gi = 0; gi < p.groups; gi++) k.fns.copy_planes(from + 4 * gi * p.fg * q, 4 * p.f * q, 0, to + 4 * gi * p.n * p.fg * q, 4 * p.fg * q, 0, p.n, 1, 4 * p.fg * q);
    }
  }
  // One group after another, back to back (the workers stay awake between them).
  for (let gi = 0; gi < p.groups; gi++) {
    const share = grouped ? 4 * gi * p.n * p.fg * q : 0;
    if (needX) {
      // Wsh[c][f][d]: filter (f, c) of the group placed at offset (dy, dx) of a region, zeros around it.
      f32.fill(0, wsh / 4, wsh / 4 + p.fg * p.cg * 4 * rs);
      k.fns.shift_filters(weights + 4 * gi * p.fg * p.k, wsh, p.fg, p.cg, p.kh, p.kw, rw, 4 * rs);
    }
    blocks.forEach((params, t) => {
      const P = params / 4;
      const s = work[t]!;
      zeroScratch(t);
      i32.fill(0, P, P + BPARAM_WORDS);
      i32[P + BPARAM.x] = xAt + gi * p.cg * xPlane;
      i32[P + BPARAM.xImage] = p.c * xPlane;
      i32[P + BPARAM.xPlane] = xPlane;
      i32[P + BPARAM.xRow] = 4 * p.wr;
      i32[P + BPARAM.channels] = p.cg;
      i32[P + BPARAM.regionH] = rh;
      i32[P + BPARAM.regionW] = rw;
      i32[P + BPARAM.regionBytes] = 4 * rs;
      i32[P + BPARAM.pooledW] = p.pooledW;
      i32[P + BPARAM.windows] = q;
      i32[P + BPARAM.filters] = p.fg;
      i32[P + BPARAM.g] = gG! + share;
      i32[P + BPARAM.y] = yG! + share;
      i32[P + BPARAM.codes] = cG! + share;
      i32[P + BPARAM.table] = s.table;
      i32[P + BPARAM.needW] = needW ? 1 : 0;
      i32[P + BPARAM.dwsh] = s.dwsh;
      i32[P + BPARAM.db] = s.db;
      i32[P + BPARAM.needX] = needX ? 1 : 0;
      i32[P + BPARAM.wsh] = wsh;
      i32[P + BPARAM.dx] = dx + gi * p.cg * xPlane;
      i32[P + BPARAM.dxImage] = p.c * xPlane;
      i32[P + BPARAM.dxPlane] = xPlane;
      i32[P + BPARAM.dxRow] = 4 * p.wr;
      i32[P + BPARAM.scratch] = s.region;
    });
    runSplit(k, name, p.n, parts, (t) => blocks[t]!, zeroScratch);
    const v = call.views.f32;
    // dW[f][c][kh][kw] = Σ_threads Σ_d dWsh[c][f][d][(dy + kh)·rw + dx + kw], into the group's filters.
    if (out.weight) for (const s of work) k.fns.gather_dw(s.dwsh, dw + 4 * gi * p.fg * p.k, p.fg, p.cg, p.kh, p.kw, rw, 4 * rs);
    if (out.bias) {
      for (let fi = 0; fi < p.fg; fi++) {
        let sum = 0;
        for (const s of work) sum += v[s.db / 4 + fi]!;
        out.bias[gi * p.fg + fi] = sum;
      }
    }
  }
  if (out.weight) out.weight.set(call.views.f32.subarray(dw / 4, dw / 4 + weight.length));
  if (needX && p.pad > 0) k.fns.copy_planes(dx + 4 * (p.pad * p.wr + p.pad), xPlane, 4 * p.wr, dxOut, 4 * p.h * p.w, 4 * p.w, p.n * p.c, p.h, 4 * p.w);
  call.finish();
  return parts;
}

export { CONV_PARALLEL_MIN_MACS, convWasmAvailable, shutdownConvWorkers } from '../../kernels/cpu/conv-wasm-runtime.js';
