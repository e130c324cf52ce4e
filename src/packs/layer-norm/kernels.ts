import type { Backend } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import type { Storage } from '../../tensor/storage.js';

/** The forward's results: y, and each row's mean and 1/√(var + eps) (kept for the backward). */
export interface LayerNormForward {
  y: Storage;
  mean: Storage;
  rstd: Storage;
}

export interface LayerNormGrad {
  x: Storage;
  weight: Storage | null;
  bias: Storage | null;
}

export interface LayerNormKernels {
  /**
   * Per row of `cols` elements: x̂ = (x − mean)·rstd with rstd = 1/√(var + eps) (biased variance),
   * y = x̂·weight + bias (weight, bias of length `cols`, or null).
   */
  forward(x: Storage, rows: number, cols: number, weight: Storage | null, bias: Storage | null, eps: number): LayerNormForward;
  /**
   * With ĝ = g·weight (or g): dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per row; dweight = Σ_rows g·x̂,
   * dbias = Σ_rows g (when `affine`).
   */
  backward(g: Storage, x: Storage, mean: Storage, rstd: Storage, weight: Storage | null, rows: number, cols: number, affine: boolean): LayerNormGrad;
}

/** The generic version, from the backend's elementwise and reduce kernels (many passes, data stays put). */
function generic(b: Backend): LayerNormKernels {
  const scalar = (like: Storage, v: number): Storage => b.fill(1, v, like.dtype);
  const rowMean = (x: Storage, rows: number, cols: number): Storage => {
    const sum = b.reduce('sum', x, [rows, cols], [1]);
    const n = scalar(x, 1 / cols);
    const mean = b.binary('mul', sum, [rows, 1], n, [1], [rows, 1]);
    sum.dispose();
    n.dispose();
    return mean;
  };
  /** x̂ = (x − mean)·rstd. */
  const normalised = (x: Storage, mean: Storage, rstd: Storage, rows: number, cols: number): Storage => {
    const centred = b.binary('sub', x, [rows, cols], mean, [rows, 1], [rows, cols]);
    const out = b.binary('mul', centred, [rows, cols], rstd, [rows, 1], [rows, cols]);
    centred.dispose();
    return out;
  };
  return {
    forward(x, rows, cols, weight, bias, eps) {
      const mean = rowMean(x, rows, cols);
      const centred = b.binary('sub', x, [rows, cols], mean, [rows, 1], [rows, cols]);
      const squares = b.unary('square', centred);
      const variance = rowMean(squares, rows, cols);
      const epsilon = scalar(x, eps);
      const shifted = b.binary('add', variance, [rows, 1], epsilon, [1], [rows, 1]);
      const std = b.unary('sqrt', shifted);
      const rstd = b.unary('reciprocal', std);
      const xhat = b.binary('mul', centred, [rows, cols], rstd, [rows, 1], [rows, cols]);
      for (const s of [centred, squares, variance, epsilon, shifted, std]) s.dispose();
      let y = xhat;
      if (weight) {
        y = b.binary('mul', xhat, [rows, cols], weight, [cols], [rows, cols]);
        xhat.dispose();
      }
      if (bias) {
        const withBias = b.binary('add', y, [rows, cols], bias, [cols], [rows, cols]);
        y.dispose();
        y = withBias;
      }
      return { y, mean, rstd };
    },
    backward(g, x, mean, rstd, weight, rows, cols, affine) {
      const xhat = normalised(x, mean, rstd, rows, cols);
      const gh = weight ? b.binary('mul', g, [rows, cols], weight, [cols], [rows, cols]) : g;
      const meanG = rowMean(gh, rows, cols);
      const ghx = b.binary('mul', gh, [rows, cols], xhat, [rows, cols], [rows, cols]);
      const meanGx = rowMean(ghx, rows, cols);
      const a = b.binary('sub', gh, [rows, cols], meanG, [rows, 1], [rows, cols]);
      const c = b.binary('mul', xhat, [rows, cols], meanGx, [rows, 1], [rows, cols]);
      const d = b.binary('sub', a, [rows, cols], c, [rows, cols], [rows, cols]);
      const dx = b.binary('mul', d, [rows, cols], rstd, [rows, 1], [rows, cols]);
      let dweight: Storage | null = null;
      let dbias: Storage | null = null;
      if (affine) {
        const gx = b.binary('mul', g, [rows, cols], xhat, [rows, cols], [rows, cols]);
        dweight = b.reduce('sum', gx, [rows, cols], [0]);
        dbias = b.reduce('sum', g, [rows, cols], [0]);
        gx.dispose();
      }
      for (const s of [xhat, meanG, ghx, meanGx, a, c, d]) s.dispose();
      if (gh !== g) gh.dispose();
      return { x: dx, weight: dweight, bias: dbias };
    },
  };
}

export const layerNormKernels = new PackKernels<LayerNormKernels>('layer-norm', generic);
