import type { Shape } from '../../tensor/shape.js';
import type { SourceSpec } from './elementwise.js';
import { broadcastStrides, collapseWalk, kernelSource, lit, offsetExpr, splitIndex, stridesFor } from './source.js';

/** Layout kernels: each output element reads the one input element it copies (a gather). */

/** A strided copy: output dims `dims`, input element at base + Σ coord·stride. */
function stridedCopy(name: string, dims: readonly number[], strides: readonly number[], base: number): SourceSpec {
  const walk = collapseWalk(dims, [strides]);
  const contiguous = stridesFor(walk.dims);
  const st = walk.strides[0]!;
  const direct = base === 0 && st.every((s, k) => s === contiguous[k]);
  return {
    key: `${name}:${walk.dims.join('x')}:${st.join(',')}:${base}`,
    source: () =>
      kernelSource(
        ['x'],
        direct ? 'return x[this.thread.x];\n' : `${splitIndex('this.thread.x', walk.dims, 'c')}return x[${offsetExpr('c', st, base)}];\n`,
      ),
  };
}

export function permuteSource(shape: Shape, perm: readonly number[]): SourceSpec {
  const strides = stridesFor(shape);
  return stridedCopy(
    'permute',
    perm.map((p) => shape[p]!),
    perm.map((p) => strides[p]!),
    0,
  );
}

export function broadcastToSource(shape: Shape, outShape: Shape): SourceSpec {
  return stridedCopy('broadcastTo', outShape, broadcastStrides(shape, outShape), 0);
}

export function sliceSource(shape: Shape, begin: readonly number[], size: readonly number[]): SourceSpec {
  const strides = stridesFor(shape);
  const base = begin.reduce((p, b, i) => p + b * strides[i]!, 0);
  return stridedCopy('slice', size, strides, base);
}

/** Zeros of `outShape` with `x` (of `shape`) at `begin`. */
export function padSource(shape: Shape, begin: readonly number[], outShape: Shape): SourceSpec {
  const inStrides = stridesFor(shape);
  return {
    key: `pad:${shape.join('x')}:${begin.join(',')}:${outShape.join('x')}`,
    source: () => {
      const inside: string[] = [];
      const terms: string[] = [];
      outShape.forEach((d, k) => {
        const b = begin[k]!;
        const s = shape[k]!;
        if (b > 0) inside.push(`c${k} >= ${lit(b)}`);
        if (b + s < d) inside.push(`c${k} < ${lit(b + s)}`);
        if (s > 1) terms.push(`(c${k} - ${lit(b)}) * ${lit(inStrides[k]!)}`);
      });
      const read = `return x[${terms.length === 0 ? '0' : terms.join(' + ')}];\n`;
      const body = inside.length === 0 ? read : `if (${inside.join(' && ')}) {\n${read}}\nreturn 0;\n`;
      return kernelSource(['x'], splitIndex('this.thread.x', outShape, 'c') + body);
    },
  };
}

/**
 * Inputs per concat kernel; more are concatenated in rounds. WebGPU guarantees 8 storage buffers per
 * shader stage (the output is one of them); GL modes bind each input to one of ≥ 8 texture units.
 */
export const MAX_CONCAT_INPUTS = 7;

/** Joins inputs (all non-empty) along `axis`. */
export function concatSource(shapes: readonly Shape[], axis: number): SourceSpec {
  const first = shapes[0]!;
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= first[i]!;
  for (let i = axis + 1; i < first.length; i++) inner *= first[i]!;
  const sizes = shapes.map((s) => s[axis]!);
  const total = sizes.reduce((p, d) => p + d, 0);
  const names = shapes.map((_, k) => `x${k}`);
  return {
    key: `concat:${outer}:${sizes.join(',')}:${inner}`,
    source: () => {
      let s = splitIndex('this.thread.x', [outer, total, inner], 'c');
      let offset = 0;
      sizes.forEach((d, k) => {
        const read = `x${k}[(c0 * ${lit(d)} + c1 - ${lit(offset)}) * ${lit(inner)} + c2]`;
        s += k === sizes.length - 1 ? `return ${read};\n` : `if (c1 < ${lit(offset + d)}) { return ${read}; }\n`;
        offset += d;
      });
      return kernelSource(names, s);
    },
  };
}

/** Selects `count` indices (an argument: float values) along the middle dim of [outer, dim, inner]. */
export function gatherSource(outer: number, dim: number, inner: number, count: number): SourceSpec {
  return {
    key: `gather:${outer}x${dim}x${inner}:${count}`,
    source: () =>
      kernelSource(
        ['x', 'idx'],
        splitIndex('this.thread.x', [outer, count, inner], 'c') + `return x[(c0 * ${lit(dim)} + idx[c1]) * ${lit(inner)} + c2];\n`,
      ),
  };
}

/** Zeros of [outer, dim, inner] with the slices of g ([outer, count, inner]) added at the indices. */
export function scatterAddSource(outer: number, dim: number, inner: number, count: number): SourceSpec {
  return {
    key: `scatterAdd:${outer}x${dim}x${inner}:${count}`,
    source: () =>
      kernelSource(
        ['g', 'idx'],
        splitIndex('this.thread.x', [outer, dim, inner], 'c') +
          'let acc = 0;\n' +
          `for (let l = 0; l < ${lit(count)}; l++) {\n` +
          `if (idx[l] === c1) { acc += g[(c0 * ${lit(count)} + l) * ${lit(inner)} + c2]; }\n}\nreturn acc;\n`,
      ),
  };
}

/** Rows of length `depth` with a 1 where the column equals the row's index. */
export function oneHotSource(count: number, depth: number): SourceSpec {
  return {
    key: `oneHot:${count}x${depth}`,
    source: () =>
      kernelSource(['idx'], splitIndex('this.thread.x', [count, depth], 'c') + 'return idx[c0] === c1 ? 1 : 0;\n'),
  };
}
