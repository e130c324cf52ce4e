import type { TypedArray } from '../../tensor/dtype.js';

/**
 * Cache-blocked, register-tiled matrix product in plain JS (the portable path; see gemm-wasm.ts for
 * the SIMD one). Operands are strided views: element (i,p) of op(A) is a[aOff + i·ars + p·acs],
 * element (p,j) of op(B) is b[bOff + p·brs + j·bcs], so a transposed operand is packed straight
 * from its storage without being materialised. C[i,j] lives at c[cOff + i·ldc + j] and is overwritten.
 *
 * Blocking (GotoBLAS order): columns of C in NC-wide blocks, the inner dimension in KC-deep blocks
 * (B block packed into NR-wide panels, reused for every row block), rows in MC-high blocks (A block
 * packed into MR-high panels, kept hot in L2), then MR×NR micro-tiles whose 9 sums stay in registers.
 *
 * Panels are Float64Array for both dtypes: one monomorphic micro-kernel (measured here: a kernel
 * that sees both Float32Array and Float64Array panels runs at ~60% speed), no float32→float64
 * conversion in the inner loop, and float32 products are summed in double before the final rounding.
 */
export const JS_MR = 3;
export const JS_NR = 3;
const MC = 96; // multiple of MR; 96 × KC doubles = 192 KiB, fits L2
const KC = 256;
const NC = 1020; // multiple of NR

// Reused across calls (grown on demand, never per call): packed panels and the micro-tile result.
let aPack = new Float64Array(0);
let bPack = new Float64Array(0);
const tile = new Float64Array(JS_MR * JS_NR);

export function gemmJs(
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOff: number,
  ars: number,
  acs: number,
  b: TypedArray,
  bOff: number,
  brs: number,
  bcs: number,
  c: TypedArray,
  cOff: number,
  ldc: number,
): void {
  if (m === 0 || n === 0) return;
  if (k === 0) {
    for (let i = 0; i < m; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + n);
    return;
  }
  const kcMax = Math.min(KC, k);
  const ncMax = Math.min(NC, roundUp(n, JS_NR));
  const mcMax = Math.min(MC, roundUp(m, JS_MR));
  if (aPack.length < mcMax * kcMax) aPack = new Float64Array(MC * kcMax);
  if (bPack.length < kcMax * ncMax) bPack = new Float64Array(kcMax * ncMax);
  const ap = aPack;
  const bp = bPack;

  for (let jc = 0; jc < n; jc += NC) {
    const ncb = Math.min(NC, n - jc);
    const nPanels = Math.ceil(ncb / JS_NR);
    for (let pc = 0; pc < k; pc += KC) {
      const kcb = Math.min(KC, k - pc);
      const accumulate = pc > 0;
      packB(b, bOff + pc * brs + jc * bcs, brs, bcs, kcb, ncb, bp);
      for (let ic = 0; ic < m; ic += MC) {
        const mcb = Math.min(MC, m - ic);
        const mPanels = Math.ceil(mcb / JS_MR);
        packA(a, aOff + ic * ars + pc * acs, ars, acs, mcb, kcb, ap);
        for (let jr = 0; jr < nPanels; jr++) {
          const bPanel = jr * kcb * JS_NR;
          const col = jc + jr * JS_NR;
          const cols = Math.min(JS_NR, n - col);
          for (let ir = 0; ir < mPanels; ir++) {
            microKernel3x3(kcb, ap, ir * kcb * JS_MR, bp, bPanel, tile);
            const row = ic + ir * JS_MR;
            storeTile(c, cOff + row * ldc + col, ldc, Math.min(JS_MR, m - row), cols, accumulate);
          }
        }
      }
    }
  }
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/** A[rows×depth] (strided) → MR-high panels, p-major inside a panel, zero rows past the edge. */
function packA(a: TypedArray, off: number, rs: number, cs: number, rows: number, depth: number, out: Float64Array): void {
  let w = 0;
  for (let i0 = 0; i0 < rows; i0 += JS_MR) {
    const h = Math.min(JS_MR, rows - i0);
    const base = off + i0 * rs;
    if (h === JS_MR) {
      for (let p = 0; p < depth; p++) {
        const s = base + p * cs;
        out[w] = a[s]!;
        out[w + 1] = a[s + rs]!;
        out[w + 2] = a[s + 2 * rs]!;
        w += JS_MR;
      }
    } else {
      for (let p = 0; p < depth; p++) {
        const s = base + p * cs;
        for (let ii = 0; ii < JS_MR; ii++) out[w + ii] = ii < h ? a[s + ii * rs]! : 0;
        w += JS_MR;
      }
    }
  }
}

/** B[depth×cols] (strided) → NR-wide panels, p-major inside a panel, zero columns past the edge. */
function packB(b: TypedArray, off: number, rs: number, cs: number, depth: number, cols: number, out: Float64Array): void {
  let w = 0;
  for (let j0 = 0; j0 < cols; j0 += JS_NR) {
    const wd = Math.min(JS_NR, cols - j0);
    const base = off + j0 * cs;
    if (wd === JS_NR) {
      for (let p = 0; p < depth; p++) {
        const s = base + p * rs;
        out[w] = b[s]!;
        out[w + 1] = b[s + cs]!;
        out[w + 2] = b[s + 2 * cs]!;
        w += JS_NR;
      }
    } else {
      for (let p = 0; p < depth; p++) {
        const s = base + p * rs;
        for (let jj = 0; jj < JS_NR; jj++) out[w + jj] = jj < wd ? b[s + jj * cs]! : 0;
        w += JS_NR;
      }
    }
  }
}

/**
 * The 3×3 micro-kernel: out = Apanel(kc×3)ᵀ·Bpanel(kc×3), row-major. 3×3 is the widest tile whose
 * 9 sums and 6 operands fit the 16 SSE registers V8 allocates from; 4×4 spills and measured slower.
 * The `| 0` keeps index arithmetic in int32 without overflow checks.
 */
function microKernel3x3(kc: number, a: Float64Array, aOff: number, b: Float64Array, bOff: number, out: Float64Array): void {
  let c00 = 0.0, c01 = 0.0, c02 = 0.0, c10 = 0.0, c11 = 0.0, c12 = 0.0, c20 = 0.0, c21 = 0.0, c22 = 0.0;
  let ai = aOff | 0;
  let bi = bOff | 0;
  const end = (aOff + kc * 3) | 0;
  while (ai < end) {
    const a0 = a[ai]!, a1 = a[(ai + 1) | 0]!, a2 = a[(ai + 2) | 0]!;
    let bv = b[bi]!;
    c00 += a0 * bv; c10 += a1 * bv; c20 += a2 * bv;
    bv = b[(bi + 1) | 0]!;
    c01 += a0 * bv; c11 += a1 * bv; c21 += a2 * bv;
    bv = b[(bi + 2) | 0]!;
    c02 += a0 * bv; c12 += a1 * bv; c22 += a2 * bv;
    ai = (ai + 3) | 0;
    bi = (bi + 3) | 0;
  }
  out[0] = c00; out[1] = c01; out[2] = c02;
  out[3] = c10; out[4] = c11; out[5] = c12;
  out[6] = c20; out[7] = c21; out[8] = c22;
}

/** Writes (or adds, for later depth blocks) the valid rows×cols corner of the tile into C. */
function storeTile(c: TypedArray, off: number, ldc: number, rows: number, cols: number, accumulate: boolean): void {
  for (let i = 0; i < rows; i++) {
    const o = off + i * ldc;
    const t = i * JS_NR;
    if (accumulate) for (let j = 0; j < cols; j++) c[o + j]! += tile[t + j]!;
    else for (let j = 0; j < cols; j++) c[o + j] = tile[t + j]!;
  }
}
