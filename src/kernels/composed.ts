import type { AdamUpdateArgs, AdamUpdateResult, Backend, BiasActivationGrad, FusedActivation, MixRowsGrad, MixTerm } from './backend.js';
import type { Shape } from '../tensor/shape.js';
import type { Storage } from '../tensor/storage.js';

/**
 * The fused kernels written with a backend's basic kernels, for backends without a fused version of
 * their own (the gpu backend): same results up to rounding, several passes instead of one, and the
 * data stays on that backend (no readback). Intermediates are released as soon as they are used.
 */

export function biasActivationByParts(b: Backend, x: Storage, shape: Shape, bias: Storage | null, activation: FusedActivation): Storage {
  const cols = shape.length > 0 ? shape[shape.length - 1]! : 1;
  const sum = bias ? b.binary('add', x, shape, bias, [cols], shape) : x;
  if (activation === 'identity') return sum === x ? copy(b, x) : sum;
  const out = b.unary('relu', sum);
  if (sum !== x) sum.dispose();
  return out;
}

export function biasActivationGradByParts(
  b: Backend,
  activation: FusedActivation,
  g: Storage,
  y: Storage,
  shape: Shape,
  withBias: boolean,
): BiasActivationGrad {
  let x: Storage;
  if (activation === 'identity') x = copy(b, g);
  else {
    const mask = b.unary('step', y);
    x = b.binary('mul', g, shape, mask, shape, shape);
    mask.dispose();
  }
  const rowAxes = shape.map((_, i) => i).slice(0, -1);
  return { x, bias: withBias ? b.reduce('sum', x, shape, rowAxes) : null };
}

/** Column `c` of q [rows, qCols] as [rows, 1]. */
function column(b: Backend, q: Storage, qCols: number, rows: number, c: number): Storage {
  return b.slice(q, [rows, qCols], [0, c], [rows, 1]);
}

/** q[rows_t, c_t] as [n, 1] for a term (all rows when rows_t is null). */
function termWeights(b: Backend, q: Storage, qCols: number, rows: number, t: MixTerm): Storage {
  const col = column(b, q, qCols, rows, t.column);
  if (!t.rows) return col;
  const picked = b.gather(col, [rows, 1], t.rows, 0);
  col.dispose();
  return picked;
}

export function mixRowsByParts(b: Backend, q: Storage, qCols: number, terms: readonly MixTerm[], rows: number, cols: number): Storage {
  const shape = [rows, cols];
  let out = b.fill(rows * cols, 0, q.dtype);
  for (const t of terms) {
    const n = t.rows ? t.rows.length : rows;
    const w = termWeights(b, q, qCols, rows, t);
    let term = b.binary('mul', t.f, [n, cols], w, [n, 1], [n, cols]);
    w.dispose();
    if (t.rows) {
      const placed = b.scatterAdd(term, [n, cols], t.rows, 0, shape);
      term.dispose();
      term = placed;
    }
    const sum = b.binary('add', out, shape, term, shape, shape);
    out.dispose();
    term.dispose();
    out = sum;
  }
  return out;
}

export function mixRowsGradByParts(
  b: Backend,
  q: Storage,
  qCols: number,
  terms: readonly MixTerm[],
  g: Storage,
  rows: number,
  cols: number,
  needQ: boolean,
  needF: readonly boolean[],
): MixRowsGrad {
  let gq: Storage | null = needQ ? b.fill(rows * qCols, 0, q.dtype) : null;
  const gfs = terms.map((t, i) => {
    const n = t.rows ? t.rows.length : rows;
    const shape = [n, cols];
    const gRows = t.rows ? b.gather(g, [rows, cols], t.rows, 0) : g;
    const w = termWeights(b, q, qCols, rows, t);
    const gf = needF[i] ? b.binary('mul', gRows, shape, w, [n, 1], shape) : null;
    w.dispose();
    if (gq !== null) {
      const prod = b.binary('mul', gRows, shape, t.f, shape, shape);
      const dots = b.reduce('sum', prod, shape, [1]);
      const inRows = t.rows ? b.scatterAdd(dots, [n, 1], t.rows, 0, [rows, 1]) : dots;
      const placed = b.pad(inRows, [rows, 1], [0, t.column], [rows, qCols]);
      const sum: Storage = b.binary('add', gq, [rows, qCols], placed, [rows, qCols], [rows, qCols]);
      for (const s of new Set([prod, dots, inRows, placed, gq])) s.dispose();
      gq = sum;
    }
    if (gRows !== g) gRows.dispose();
    return gf;
  });
  return { q: gq, fs: gfs };
}

function copy(b: Backend, x: Storage): Storage {
  return b.slice(x, [x.size], [0], [x.size]);
}

export function adamUpdateByParts(b: Backend, param: Storage, grad: Storage, m: Storage, v: Storage, args: AdamUpdateArgs): AdamUpdateResult {
  const shape = [param.size];
  const temps: Storage[] = [];
  const t = (s: Storage): Storage => {
    temps.push(s);
    return s;
  };
  const scalar = (value: number): Storage => t(b.fill(1, value, param.dtype));
  const op = (name: 'add' | 'sub' | 'mul' | 'div', x: Storage, y: Storage): Storage =>
    t(b.binary(name, x, shape, y, y.size === 1 ? [] : shape, shape));
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = args;
  const g = !decoupled && weightDecay > 0 ? op('add', grad, op('mul', param, scalar(weightDecay))) : grad;
  const p = decoupled && weightDecay > 0 ? op('mul', param, scalar(1 - lr * weightDecay)) : param;
  const mNew = b.binary('add', op('mul', m, scalar(beta1)), shape, op('mul', g, scalar(1 - beta1)), shape, shape);
  const vNew = b.binary('add', op('mul', v, scalar(beta2)), shape, op('mul', op('mul', g, g), scalar(1 - beta2)), shape, shape);
  const denom = op('add', op('div', t(b.unary('sqrt', vNew)), scalar(Math.sqrt(1 - beta2 ** step))), scalar(eps));
  const update = op('mul', op('div', mNew, denom), scalar(lr / (1 - beta1 ** step)));
  const pNew = b.binary('sub', p, shape, update, shape, shape);
  for (const s of temps) s.dispose();
  return { param: pNew, m: mNew, v: vNew };
}
