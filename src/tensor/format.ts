import type { DType } from './dtype.js';
import { sizeOf, stridesOf } from './shape.js';

/** How `Tensor.toString()` prints values; PyTorch's defaults. */
export interface TensorFormatOptions {
  /** Digits after the decimal point (default 4). */
  precision?: number;
  /** Tensors with more elements than this are summarised (default 1000). */
  threshold?: number;
  /** Items kept at each end of a summarised dimension (default 3). */
  edgeItems?: number;
  /** Characters per line before a row wraps (default 80). */
  lineWidth?: number;
}

const DEFAULTS: Required<TensorFormatOptions> = { precision: 4, threshold: 1000, edgeItems: 3, lineWidth: 80 };

/** What the formatter needs to know about a tensor (kept apart from Tensor so this file has no cycle). */
export interface FormattableTensor {
  shape: readonly number[];
  dtype: DType;
  requiresGrad: boolean;
}

/**
 * `tensor([[ 0.1000, -2.0000], …], dtype=float64, requiresGrad=true)`, like PyTorch: one number format
 * for the whole tensor (integers as `3.`, fixed or scientific by the range of the values), columns
 * aligned, and tensors above `threshold` elements summarised with `...` and their shape added.
 */
export function formatTensor(t: FormattableTensor, data: ArrayLike<number>, opts: TensorFormatOptions = {}): string {
  const o = { ...DEFAULTS, ...opts };
  const summarise = sizeOf(t.shape) > o.threshold;
  const shown = shownIndices(t.shape, summarise ? o.edgeItems : Infinity);
  const strides = stridesOf(t.shape);
  const values: number[] = [];
  collect(data, t.shape, strides, shown, 0, 0, values);
  const format = numberFormat(values, o.precision);
  const width = values.reduce((w, v) => Math.max(w, format(v).length), 1);
  const prefix = 'tensor(';
  const body = t.shape.length === 0 ? format(data[0]!) : render(data, t.shape, strides, shown, 0, 0, format, width, prefix.length, o.lineWidth);
  const extras: string[] = [];
  if (summarise) extras.push(`shape=[${t.shape.join(', ')}]`);
  if (t.dtype !== 'float32') extras.push(`dtype=${t.dtype}`);
  if (t.requiresGrad) extras.push('requiresGrad=true');
  return `${prefix}${body}${extras.map((e) => `, ${e}`).join('')})`;
}

/** Per dimension, the indices printed (null marks where `...` goes). */
function shownIndices(shape: readonly number[], edge: number): (number | null)[][] {
  return shape.map((n) => {
    if (n <= 2 * edge) return Array.from({ length: n }, (_, i) => i);
    return [...Array.from({ length: edge }, (_, i) => i), null, ...Array.from({ length: edge }, (_, i) => n - edge + i)];
  });
}

function collect(data: ArrayLike<number>, shape: readonly number[], strides: number[], shown: (number | null)[][], dim: number, offset: number, out: number[]): void {
  if (dim === shape.length) {
    out.push(data[offset]!);
    return;
  }
  for (const i of shown[dim]!) if (i !== null) collect(data, shape, strides, shown, dim + 1, offset + i * strides[dim]!, out);
}

/** One format for every printed value, chosen as PyTorch does. */
function numberFormat(values: readonly number[], precision: number): (v: number) => string {
  const finite = values.filter((v) => Number.isFinite(v));
  const exponential = (v: number): string => v.toExponential(precision).replace(/e([+-])(\d)$/, 'e$10$2');
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : null);
  if (finite.every((v) => Number.isInteger(v))) {
    const big = finite.some((v) => Math.abs(v) >= 1e8);
    return (v) => special(v) ?? (big ? exponential(v) : `${Object.is(v, -0) ? '-0' : String(v)}.`);
  }
  const magnitudes = finite.map(Math.abs).filter((v) => v > 0);
  const max = magnitudes.length > 0 ? Math.max(...magnitudes) : 0;
  const min = magnitudes.length > 0 ? Math.min(...magnitudes) : 0;
  const scientific = max >= 1e8 || (min > 0 && min < 1e-4) || (min > 0 && max / min > 1000);
  return (v) => special(v) ?? (scientific ? exponential(v) : v.toFixed(precision));
}

function render(
  data: ArrayLike<number>,
  shape: readonly number[],
  strides: number[],
  shown: (number | null)[][],
  dim: number,
  offset: number,
  format: (v: number) => string,
  width: number,
  indent: number,
  lineWidth: number,
): string {
  const items = shown[dim]!;
  if (dim === shape.length - 1) {
    const cells = items.map((i) => (i === null ? '...' : format(data[offset + i * strides[dim]!]!).padStart(width)));
    // Wrap long rows as PyTorch does: as many cells per line as fit in the line width.
    const perLine = Math.max(1, Math.floor((lineWidth - indent - 1) / (width + 2)));
    const lines: string[] = [];
    for (let s = 0; s < cells.length; s += perLine) lines.push(cells.slice(s, s + perLine).join(', '));
    return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
  }
  const blankLines = '\n'.repeat(shape.length - dim - 1);
  const parts = items.map((i) =>
    i === null ? '...' : render(data, shape, strides, shown, dim + 1, offset + i * strides[dim]!, format, width, indent + 1, lineWidth),
  );
  return `[${parts.join(`,${blankLines}${' '.repeat(indent + 1)}`)}]`;
}
