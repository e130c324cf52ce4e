/**
 * Helpers that write GPU.js kernel source. Every size, stride and loop bound is written into the
 * source as a literal (one compiled kernel per shape), never passed as an argument: GPU.js caps loops
 * whose bound is an argument at `loopMaxIterations`. Indices are float arithmetic that GPU.js casts to
 * int when it reads an array, so they are exact up to 2^24 elements (see MAX_GPU_ELEMENTS).
 */

/** Largest tensor the gpu kernels index exactly (float32 integers are exact up to 2^24). */
export const MAX_GPU_ELEMENTS = 1 << 24;

/** A JS number literal for kernel source (finite values only). */
export function lit(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`gpu kernel source: non-finite constant ${x}`);
  return Object.is(x, -0) ? '0' : String(x);
}

/**
 * Statements splitting the non-negative integer in variable `from` into coordinates
 * `${p}0 .. ${p}{r-1}` over `dims` (outermost first). Float division on a GPU may land one ulp off,
 * so the quotient of (t + 0.5) / d is corrected by exact integer products on both sides.
 */
export function splitIndex(from: string, dims: readonly number[], p: string): string {
  const r = dims.length;
  if (r === 0) return '';
  if (r === 1) return `const ${p}0 = ${from};\n`;
  let s = `let ${p}t = ${from};\n`;
  for (let k = r - 1; k >= 1; k--) {
    const d = dims[k]!;
    if (d === 1) {
      s += `const ${p}${k} = 0;\n`;
      continue;
    }
    s +=
      `let ${p}q${k} = Math.floor((${p}t + 0.5) / ${lit(d)});\n` +
      `if (${p}q${k} * ${lit(d)} > ${p}t) { ${p}q${k} = ${p}q${k} - 1; }\n` +
      `if (${p}q${k} * ${lit(d)} + ${lit(d)} <= ${p}t) { ${p}q${k} = ${p}q${k} + 1; }\n` +
      `const ${p}${k} = ${p}t - ${p}q${k} * ${lit(d)};\n` +
      `${p}t = ${p}q${k};\n`;
  }
  s += `const ${p}0 = ${p}t;\n`;
  return s;
}

/** The expression Σ coord_k · stride_k (terms with stride 0 dropped), plus `base`. */
export function offsetExpr(p: string, strides: readonly number[], base = 0): string {
  const terms: string[] = [];
  if (base !== 0) terms.push(lit(base));
  strides.forEach((s, k) => {
    if (s === 0) return;
    terms.push(s === 1 ? `${p}${k}` : `${p}${k} * ${lit(s)}`);
  });
  return terms.length === 0 ? '0' : terms.join(' + ');
}

/** Row-major strides of `dims`. */
export function stridesFor(dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= dims[i]!;
  }
  return out;
}

/** A strided walk over a view: `dims` (outermost first) and, per dim, the element stride of each operand. */
export interface StridedWalk {
  dims: number[];
  strides: number[][];
}

/**
 * Drops size-1 dims and merges neighbouring dims that every operand walks as one run, so the kernel
 * splits its index into as few coordinates as possible.
 */
export function collapseWalk(dims: readonly number[], strides: readonly (readonly number[])[]): StridedWalk {
  const out: StridedWalk = { dims: [], strides: strides.map(() => []) };
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (d === 1) continue;
    const last = out.dims.length - 1;
    const mergeable = last >= 0 && strides.every((st, k) => out.strides[k]![last] === st[i]! * d);
    if (mergeable) {
      out.dims[last] = out.dims[last]! * d;
      strides.forEach((st, k) => (out.strides[k]![last] = st[i]!));
    } else {
      out.dims.push(d);
      strides.forEach((st, k) => out.strides[k]!.push(st[i]!));
    }
  }
  return out;
}

/** Broadcast strides of `shape` against `outShape` (0 on broadcast dims), aligned to the right. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const lead = outShape.length - shape.length;
  const own = stridesFor(shape);
  return outShape.map((d, i) => {
    const k = i - lead;
    if (k < 0) return 0;
    return shape[k] === 1 && d !== 1 ? 0 : own[k]!;
  });
}

/** Kernel source text: `function(args) { body }` for GPU.js, which transpiles it per mode. */
export function kernelSource(args: readonly string[], body: string): string {
  return `function(${args.join(', ')}) {\n${body}}`;
}
