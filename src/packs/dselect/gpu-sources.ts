import type { SourceSpec } from '../../kernels/gpu/elementwise.js';
import { kernelSource, lit, splitIndex } from '../../kernels/gpu/source.js';

/**
 * DSelect-k selector kernels. The m bits are unrolled in the source (m = ceil(log2 n) is small); bit j
 * of expert e is floor(e / 2^(m−1−j)) mod 2, exact in float because the divisor is a power of two.
 */

function bitExpr(e: string, m: number, j: number): string {
  const pw = lit(2 ** (m - 1 - j));
  return `(Math.floor(${e} / ${pw}) - 2 * Math.floor(${e} / ${lit(2 * 2 ** (m - 1 - j))}))`;
}

/** out[row, e] = Π_j (bit_j(e) ? s[row, j] : 1 − s[row, j]), multiplied in order j = 0..m−1. */
export function selectorForwardSource(rows: number, m: number, numExperts: number): SourceSpec {
  return {
    key: `selectorForward:${rows}:${m}:${numExperts}`,
    source: () => {
      let s = splitIndex('this.thread.x', [rows, numExperts], 'c');
      s += 'let p = 1;\n';
      for (let j = 0; j < m; j++) {
        s += `const s${j} = s[c0 * ${lit(m)} + ${lit(j)}];\n`;
        s += `p *= ${bitExpr('c1', m, j)} > 0.5 ? s${j} : 1 - s${j};\n`;
      }
      s += 'return p;\n';
      return kernelSource(['s'], s);
    },
  };
}

/**
 * out[row, j] = Σ_e g[row, e]·(2·bit_j(e) − 1)·Π_{l≠j} f_{e,l}: the leave-one-out product is
 * multiplied out directly (never a division by a factor that may be 0).
 */
export function selectorBackwardSource(rows: number, m: number, numExperts: number): SourceSpec {
  return {
    key: `selectorBackward:${rows}:${m}:${numExperts}`,
    source: () => {
      let s = splitIndex('this.thread.x', [rows, m], 'c');
      for (let l = 0; l < m; l++) s += `const s${l} = s[c0 * ${lit(m)} + ${lit(l)}];\n`;
      s += 'let acc = 0;\n';
      s += `for (let e = 0; e < ${lit(numExperts)}; e++) {\n`;
      s += `const ge = g[c0 * ${lit(numExperts)} + e];\n`;
      s += 'let p = 1;\nlet sign = 1;\n';
      for (let l = 0; l < m; l++) {
        s += `const b${l} = ${bitExpr('e', m, l)};\n`;
        s += `if (c1 === ${lit(l)}) { sign = b${l} > 0.5 ? 1 : -1; } else { p *= b${l} > 0.5 ? s${l} : 1 - s${l}; }\n`;
      }
      s += 'acc += sign * ge * p;\n}\nreturn acc;\n';
      return kernelSource(['s', 'g'], s);
    },
  };
}

/** DSelect-k smooth-step S or S' (γ an argument); at ±γ/2 the constant branch is taken, as on the cpu. */
export function smoothStepSource(size: number, derivative: boolean): SourceSpec {
  const body = derivative
    ? 'const t = a[this.thread.x];\nconst half = gamma * 0.5;\nif (t <= -half || t >= half) { return 0; }\n' +
      'const u = t / gamma;\nreturn (1.5 / gamma) * (1 - 4 * u * u);\n'
    : 'const t = a[this.thread.x];\nconst half = gamma * 0.5;\nif (t <= -half) { return 0; }\nif (t >= half) { return 1; }\n' +
      'const u = t / gamma;\nreturn u * (1.5 - 2 * u * u) + 0.5;\n';
  return { key: `smoothStep:${derivative ? 'd' : 's'}:${size}`, source: () => kernelSource(['a', 'gamma'], body) };
}
