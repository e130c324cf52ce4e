import type { Backend } from '../../kernels/backend.js';
import { PackKernels } from '../../kernels/pack-kernels.js';
import type { Storage } from '../../tensor/storage.js';

/** One Adam/AdamW update (PyTorch's formulation), applied elementwise. */
export interface AdamUpdateArgs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: p ← p·(1 − lr·λ) instead of adding λ·p to the gradient. */
  decoupled: boolean;
  /** Step number, counted from 1 (for the bias corrections). */
  step: number;
}

export interface AdamUpdateResult {
  param: Storage;
  /** New first and second moment estimates. */
  m: Storage;
  v: Storage;
}

export interface AdamUpdateKernels {
  /** New (param, m, v) from the old ones and the gradient. */
  update(param: Storage, grad: Storage, m: Storage, v: Storage, args: AdamUpdateArgs): AdamUpdateResult;
}

// The generic version: about a dozen elementwise kernels of the backend, temporaries released at once.
function adamUpdateByParts(b: Backend, param: Storage, grad: Storage, m: Storage, v: Storage, args: AdamUpdateArgs): AdamUpdateResult {
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

export const adamUpdateKernels = new PackKernels<AdamUpdateKernels>('adam-update', (b) => ({
  update: (param, grad, m, v, args) => adamUpdateByParts(b, param, grad, m, v, args),
}));
