import type { GpuBackend, KernelArg } from '../../kernels/gpu/backend.js';
import type { SourceSpec } from '../../kernels/gpu/elementwise.js';
import { kernelSource, lit, splitIndex } from '../../kernels/gpu/source.js';
import { backend } from '../../kernels/registry.js';
import type { Storage } from '../../tensor/storage.js';
import { cpuExpertMixture } from './cpu.js';
import { expertMixtureKernels, type ExpertMixtureKernels, type MixTerm } from './kernels.js';

// Registered under the name 'gpu', so the active backend is a GpuBackend whenever these run.
const gpu = (): GpuBackend => backend() as GpuBackend;

/**
 * mixRows as GPU.js kernels: the forward and q's gradient each sum a chunk of terms per launch (the
 * previous chunk's partial sum as an input, so each output still adds its terms in order); each
 * expert output's gradient is one launch. A term over a subset of rows passes, for the forward and
 * q's gradient, the position of each batch row in its rows (−1: absent), and for its own gradient the
 * row list itself, as host floats.
 */

/** Array inputs per kernel: WebGPU guarantees 8 storage buffers per shader stage, the output is one. */
const MAX_ARRAY_INPUTS = 7;

interface TermPlan {
  term: MixTerm;
  /** Batch row → position in the term's rows, or −1 (subset terms only). */
  positions: Float32Array | null;
}

function planTerms(terms: readonly MixTerm[], rows: number): TermPlan[] | null {
  const plans: TermPlan[] = [];
  for (const term of terms) {
    if (!term.rows) {
      plans.push({ term, positions: null });
      continue;
    }
    const positions = new Float32Array(rows).fill(-1);
    for (let k = 0; k < term.rows.length; k++) {
      const r = term.rows[k]!;
      if (positions[r] !== -1) return null; // a row listed twice: the inverse map cannot say which
      positions[r] = k;
    }
    plans.push({ term, positions });
  }
  return plans;
}

/** Splits the terms into launches that stay within MAX_ARRAY_INPUTS (`fixed` inputs per launch besides the terms). */
function chunk(plans: readonly TermPlan[], fixed: number): TermPlan[][] {
  const out: TermPlan[][] = [];
  let current: TermPlan[] = [];
  let used = fixed;
  for (const p of plans) {
    const need = p.positions ? 2 : 1;
    if (current.length > 0 && used + need > MAX_ARRAY_INPUTS) {
      out.push(current);
      current = [];
      used = fixed + 1; // later launches also read the partial sum
    }
    current.push(p);
    used += need;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function termsKey(plans: readonly TermPlan[]): string {
  return plans.map((p) => `${p.term.column}${p.positions ? `s${p.term.rows!.length}` : 'd'}`).join(',');
}

function termArgs(plans: readonly TermPlan[]): KernelArg[] {
  return plans.flatMap((p): KernelArg[] => (p.positions ? [p.term.f, p.positions] : [p.term.f]));
}

function termNames(plans: readonly TermPlan[]): string[] {
  return plans.flatMap((p, i) => (p.positions ? [`f${i}`, `k${i}`] : [`f${i}`]));
}

/** out[r, j] = prev + Σ_{terms i} q[r, c_i]·f_i[k_i(r), j]; a weight of exactly 0 adds nothing (as on the cpu). */
export function mixRowsSource(plans: readonly TermPlan[], qCols: number, rows: number, cols: number, withPrev: boolean): SourceSpec {
  return {
    key: `mixRows:${rows}x${cols}:q${qCols}:${termsKey(plans)}:${withPrev ? 'acc' : 'first'}`,
    source: () => {
      let s = splitIndex('this.thread.x', [rows, cols], 'c');
      s += withPrev ? 'let acc = prev[this.thread.x];\n' : 'let acc = 0;\n';
      plans.forEach((p, i) => {
        s += `const w${i} = q[c0 * ${lit(qCols)} + ${lit(p.term.column)}];\n`;
        if (p.positions) {
          s += `const r${i} = k${i}[c0];\n`;
          s += `if (w${i} !== 0 && r${i} >= 0) { acc += w${i} * f${i}[r${i} * ${lit(cols)} + c1]; }\n`;
        } else {
          s += `if (w${i} !== 0) { acc += w${i} * f${i}[c0 * ${lit(cols)} + c1]; }\n`;
        }
      });
      s += 'return acc;\n';
      return kernelSource([...(withPrev ? ['prev'] : []), 'q', ...termNames(plans)], s);
    },
  };
}

/** gq[r, c] = prev + Σ_{terms i with c_i = c} Σ_j g[r, j]·f_i[k_i(r), j]. */
export function mixRowsGradQSource(plans: readonly TermPlan[], qCols: number, rows: number, cols: number, withPrev: boolean): SourceSpec {
  return {
    key: `mixRowsGradQ:${rows}x${cols}:q${qCols}:${termsKey(plans)}:${withPrev ? 'acc' : 'first'}`,
    source: () => {
      let s = splitIndex('this.thread.x', [rows, qCols], 'c');
      s += withPrev ? 'let acc = prev[this.thread.x];\n' : 'let acc = 0;\n';
      plans.forEach((p, i) => {
        s += `if (c1 === ${lit(p.term.column)}) {\n`;
        s += p.positions ? `const r${i} = k${i}[c0];\n` : `const r${i} = c0;\n`;
        s += `if (r${i} >= 0) {\nlet dot${i} = 0;\n`;
        s += `for (let j = 0; j < ${lit(cols)}; j++) { dot${i} += g[c0 * ${lit(cols)} + j] * f${i}[r${i} * ${lit(cols)} + j]; }\n`;
        s += `acc += dot${i};\n}\n}\n`;
      });
      s += 'return acc;\n';
      return kernelSource([...(withPrev ? ['prev'] : []), 'g', ...termNames(plans)], s);
    },
  };
}

/** gf[k, j] = q[r, column]·g[r, j] with r = rows[k] (`subset`) or k. */
export function mixRowsGradFSource(count: number, qCols: number, column: number, cols: number, subset: boolean): SourceSpec {
  return {
    key: `mixRowsGradF:${count}x${cols}:q${qCols}:c${column}:${subset ? 's' : 'd'}`,
    source: () =>
      kernelSource(
        subset ? ['q', 'g', 'rows'] : ['q', 'g'],
        splitIndex('this.thread.x', [count, cols], 'c') +
          (subset ? 'const r = rows[c0];\n' : 'const r = c0;\n') +
          `return q[r * ${lit(qCols)} + ${lit(column)}] * g[r * ${lit(cols)} + c1];\n`,
      ),
  };
}

/** Runs the chunks in order, each adding to the previous partial sum, which is released once used. */
function sumInChunks(b: GpuBackend, chunks: readonly TermPlan[][], size: number, spec: (plans: TermPlan[], withPrev: boolean) => SourceSpec, lead: Storage): Storage {
  let acc: Storage | null = null;
  for (const plans of chunks) {
    const prev: Storage | null = acc;
    acc = b.launch(spec(plans, prev !== null), size, [...(prev ? [prev] : []), lead, ...termArgs(plans)]);
    prev?.dispose();
  }
  return acc!;
}

export const gpuExpertMixture: ExpertMixtureKernels = {
  forward(q, qCols, terms, rows, cols) {
    const b = gpu();
    if (b.needsCpu([q, ...terms.map((t) => t.f)])) {
      return b.fromCpu(cpuExpertMixture.forward(b.hostOf(q), qCols, terms.map((t) => ({ ...t, f: b.hostOf(t.f) })), rows, cols));
    }
    const plans = planTerms(terms, rows);
    if (!plans) return expertMixtureKernels.genericOn(b).forward(q, qCols, terms, rows, cols);
    return sumInChunks(b, chunk(plans, 1), rows * cols, (p, withPrev) => mixRowsSource(p, qCols, rows, cols, withPrev), q);
  },
  backward(q, qCols, terms, g, rows, cols, needQ, needF) {
    const b = gpu();
    if (b.needsCpu([q, g, ...terms.map((t) => t.f)])) {
      const r = cpuExpertMixture.backward(b.hostOf(q), qCols, terms.map((t) => ({ ...t, f: b.hostOf(t.f) })), b.hostOf(g), rows, cols, needQ, needF);
      return { q: r.q && b.fromCpu(r.q), fs: r.fs.map((s) => s && b.fromCpu(s)) };
    }
    const plans = planTerms(terms, rows);
    if (!plans) return expertMixtureKernels.genericOn(b).backward(q, qCols, terms, g, rows, cols, needQ, needF);
    const gq = needQ ? sumInChunks(b, chunk(plans, 1), rows * qCols, (p, withPrev) => mixRowsGradQSource(p, qCols, rows, cols, withPrev), g) : null;
    const fs = terms.map((t, i) => {
      if (!needF[i]) return null;
      const count = t.rows ? t.rows.length : rows;
      const spec = mixRowsGradFSource(count, qCols, t.column, cols, t.rows !== null);
      return b.launch(spec, count * cols, t.rows ? [q, g, Float32Array.from(t.rows)] : [q, g]);
    });
    return { q: gq, fs };
  },
};

export function registerExpertMixtureGpuKernels(): void {
  expertMixtureKernels.register('gpu', gpuExpertMixture);
}
