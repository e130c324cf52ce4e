import { describe, expect, it } from 'vitest';
import { Adam, AdamW, Linear, Rng, SGD, tensor, type Tensor } from '../src/index.js';

const f64 = (values: number[]): Tensor => tensor(values, { dtype: 'float64', requiresGrad: true });
const setGrad = (p: Tensor, g: number[]): void => {
  p.zeroGrad();
  p.grad = tensor(g, { dtype: p.dtype });
};
const values = (t: Tensor): number[] => Array.from(t.toArray());

describe('SGD', () => {
  it('takes a plain gradient step with weight decay, keeping the parameter tensor', () => {
    const p = f64([1, 2]);
    const opt = new SGD([p], { lr: 0.1, weightDecay: 0.5 });
    setGrad(p, [0.5, -1]);
    const before = p.storage;
    opt.step();
    // g + λp = [1, 0]; p − 0.1·[1, 0]
    expect(values(p)).toEqual([1 - 0.1 * 1, 2 - 0.1 * 0]);
    expect(before.disposed).toBe(true);
    expect(p.storage.refs).toBe(1);
  });

  it('accumulates heavy-ball momentum like PyTorch (buffer = g on the first step)', () => {
    const p = f64([1, -1]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    setGrad(p, [1, 2]);
    opt.step();
    expect(values(p)).toEqual([1 - 0.1, -1 - 0.2]);
    setGrad(p, [1, 2]);
    opt.step();
    // buffer = 0.9·g + g = 1.9·g
    expect(values(p)[0]).toBeCloseTo(0.9 - 0.19, 14);
    expect(values(p)[1]).toBeCloseTo(-1.2 - 0.38, 14);
  });

  it('leaves parameters without a gradient alone and validates hyperparameters', () => {
    const a = f64([1]);
    const b = f64([2]);
    const opt = new SGD([a, b], { lr: 1 });
    setGrad(a, [1]);
    opt.step();
    expect(values(a)).toEqual([0]);
    expect(values(b)).toEqual([2]);
    expect(() => new SGD([a], { lr: -1 })).toThrow('SGD: lr must be a finite number > 0, got -1');
    expect(() => new SGD([a], { lr: 0.1, momentum: 1.5 })).toThrow('SGD: momentum must be in [0, 1), got 1.5');
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/no parameters/);
  });
});

/** Independent float64 reference of PyTorch's Adam for one scalar. */
function adamReference(p0: number, grads: number[], lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean): number {
  let p = p0;
  let m = 0;
  let v = 0;
  grads.forEach((g0, i) => {
    const t = i + 1;
    let g = g0;
    if (decoupled) p = p * (1 - lr * wd);
    else g = g + wd * p;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps;
    p = p - (lr / (1 - b1 ** t)) * (m / denom);
  });
  return p;
}

describe('Adam / AdamW', () => {
  it('first Adam step moves each parameter by lr·g/(|g|+eps)', () => {
    const p = f64([1, 1]);
    const opt = new Adam([p], { lr: 0.01 });
    setGrad(p, [3, -0.5]);
    opt.step();
    expect(values(p)[0]).toBeCloseTo(1 - (0.01 * 3) / (3 + 1e-8), 15);
    expect(values(p)[1]).toBeCloseTo(1 + (0.01 * 0.5) / (0.5 + 1e-8), 15);
  });

  it('matches a hand-written reference over several steps (Adam with L2, AdamW decoupled)', () => {
    const grads = [[0.3, -2], [0.1, 1], [-0.7, 0.25], [0.05, -0.4]];
    for (const [Ctor, decoupled] of [[Adam, false], [AdamW, true]] as const) {
      const p = f64([0.5, -1.5]);
      const opt = new Ctor([p], { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 });
      for (const g of grads) {
        setGrad(p, g);
        opt.step();
      }
      const ref0 = adamReference(0.5, grads.map((g) => g[0]!), 0.05, 0.8, 0.99, 1e-6, 0.1, decoupled);
      const ref1 = adamReference(-1.5, grads.map((g) => g[1]!), 0.05, 0.8, 0.99, 1e-6, 0.1, decoupled);
      expect(values(p)[0]).toBeCloseTo(ref0, 13);
      expect(values(p)[1]).toBeCloseTo(ref1, 13);
    }
  });

  it('AdamW defaults to weight decay 1e-2 and Adam to none', () => {
    const p = f64([1]);
    expect(new AdamW([p]).weightDecay).toBe(1e-2);
    expect(new Adam([p]).weightDecay).toBe(0);
    expect(() => new Adam([p], { betas: [1, 0.999] })).toThrow('Adam: betas[0] must be in [0, 1), got 1');
  });
});

describe('optimiser state', () => {
  function run(steps: number, make: (params: Tensor[]) => SGD | Adam, resumeAt?: number): number[] {
    const layer = new Linear(3, 2, { rng: new Rng(1), dtype: 'float64' });
    let opt = make(layer.parameters());
    const gradRng = new Rng(2);
    for (let s = 0; s < steps; s++) {
      if (s === resumeAt) {
        // Save everything, rebuild model and optimiser from scratch, restore, continue.
        const weights = layer.stateDict();
        const state = opt.stateDict();
        const fresh = new Linear(3, 2, { rng: new Rng(99), dtype: 'float64' });
        fresh.loadStateDict(weights);
        layer.loadStateDict(fresh.stateDict());
        opt = make(layer.parameters());
        opt.loadStateDict(state);
      }
      for (const p of layer.parameters()) {
        p.zeroGrad();
        p.grad = tensor(Array.from({ length: p.size }, () => gradRng.normal()), { dtype: 'float64', shape: p.shape });
      }
      opt.step();
    }
    return layer.parameters().flatMap((p) => Array.from(p.toArray()));
  }

  it('saving and loading the state continues bit-identically (Adam, SGD with momentum)', () => {
    const makers = [(ps: Tensor[]) => new Adam(ps, { lr: 0.01 }), (ps: Tensor[]) => new SGD(ps, { lr: 0.01, momentum: 0.9 })];
    for (const make of makers) {
      expect(run(6, make, 3)).toEqual(run(6, make));
      expect(run(6, make, 3)).not.toEqual(run(5, make));
    }
  });

  it('refuses a state of another optimiser or with mis-shaped slots', () => {
    const p = f64([1, 2]);
    const adam = new Adam([p]);
    setGrad(p, [1, 1]);
    adam.step();
    const state = adam.stateDict();
    expect(() => new SGD([p], { lr: 0.1 }).loadStateDict(state)).toThrow('SGD.loadStateDict: state is for Adam, not SGD');
    const q = f64([1, 2, 3]);
    expect(() => new Adam([q]).loadStateDict(state)).toThrow("slot '0.exp_avg' has shape [2] but parameter 0 has shape [3]");
  });
});
