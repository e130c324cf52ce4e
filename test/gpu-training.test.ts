import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { dselectKWeights, keep, matmul, noGrad, randn, Rng, setBackend, softmax, stack, sum, tensor, tidy, type Tensor } from '../src/index.js';
import { type GpuBackend } from '../src/gpu/index.js';
import { GpuStorage } from '../src/kernels/gpu/storage.js';
import { activateGpuMode, needGpuMode } from './gpu-helpers.js';

/**
 * Whole training steps on the gpu backend in GPU.js's headlessgl mode (WebGL textures; skipped with
 * the reason where it cannot run): forward and backward of an MLP and of a small multi-task mixture of
 * experts match the cpu backend at float32 tolerance, and a 1,000-step loop does not grow device
 * memory — GL textures included.
 */
let gpu: GpuBackend;
afterAll(() => {
  setBackend('cpu');
});

/** Fresh leaf tensors holding the same values on whichever backend is active. */
function leaves(values: readonly Float32Array[], shapes: readonly number[][]): Tensor[] {
  return values.map((v, i) => tensor(v.slice(), { shape: shapes[i]!, requiresGrad: true }));
}

function randomValues(rng: Rng, shapes: readonly number[][], scale = 0.5): Float32Array[] {
  return shapes.map((s) => Float32Array.from(randn(s, { rng, std: scale }).toArray()));
}

interface StepResult {
  loss: number;
  outputs: Float32Array[];
  grads: Float32Array[];
}

/** Runs `forward` on the named backend from the same values and returns the loss, outputs and gradients. */
function runStep(
  ctx: TestContext,
  name: 'cpu' | 'gpu',
  values: readonly Float32Array[],
  shapes: readonly number[][],
  forward: (p: Tensor[]) => { loss: Tensor; outputs: Tensor[] },
): StepResult {
  if (name === 'cpu') setBackend('cpu');
  else activateGpuMode(ctx, 'headlessgl');
  const params = leaves(values, shapes);
  const { loss, outputs } = forward(params);
  loss.backward();
  if (name === 'gpu') {
    // Computed on the device: results are textures, not host arrays.
    expect(loss.storage).toBeInstanceOf(GpuStorage);
    expect((loss.storage as GpuStorage).onTexture).toBe(true);
    for (const p of params) expect((p.grad!.storage as GpuStorage).onTexture).toBe(true);
  }
  return {
    loss: loss.item(),
    outputs: outputs.map((o) => Float32Array.from(o.toArray())),
    grads: params.map((p) => Float32Array.from(p.grad!.toArray())),
  };
}

/** |gpu − cpu| ≤ atol + rtol·max|cpu| per array (gradients mix many rounding paths). */
function expectSimilar(label: string, g: Float32Array, c: Float32Array, rtol = 1e-4, atol = 1e-6): void {
  expect(g.length).toBe(c.length);
  const scale = c.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < c.length; i++) {
    const d = Math.abs(g[i]! - c[i]!);
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  expect(worst, `${label} [mode ${gpu.info().mode}]: element ${at} gpu ${g[at]} vs cpu ${c[at]} (max |cpu| ${scale})`).toBeLessThanOrEqual(
    atol + rtol * scale,
  );
}

describe('training steps match the cpu backend', () => {
  it('2-layer MLP regression: loss, prediction and every gradient', (ctx) => {
    gpu = needGpuMode(ctx, 'headlessgl');
    const rng = new Rng(11);
    const [batch, inDim, hidden] = [32, 12, 24];
    const shapes = [
      [inDim, hidden],
      [hidden],
      [hidden, 1],
      [1],
    ];
    const values = randomValues(rng, shapes);
    const x = Float32Array.from(randn([batch, inDim], { rng }).toArray());
    const y = Float32Array.from(randn([batch, 1], { rng }).toArray());
    const forward = ([w1, b1, w2, b2]: Tensor[]): { loss: Tensor; outputs: Tensor[] } => {
      const xs = tensor(x, { shape: [batch, inDim] });
      const pred = matmul(matmul(xs, w1!).add(b1!).relu(), w2!).add(b2!);
      const loss = pred.sub(tensor(y, { shape: [batch, 1] })).square().mean();
      return { loss, outputs: [pred] };
    };
    const c = runStep(ctx, 'cpu', values, shapes, forward);
    const g = runStep(ctx, 'gpu', values, shapes, forward);
    expect(Math.abs(g.loss - c.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(c.loss) + 1e-7);
    expectSimilar('prediction', g.outputs[0]!, c.outputs[0]!);
    ['w1', 'b1', 'w2', 'b2'].forEach((n, i) => expectSimilar(`grad ${n}`, g.grads[i]!, c.grads[i]!));
  });

  it('multi-task mixture of experts (softmax gate and DSelect-k gate): forward and backward', (ctx) => {
    gpu = needGpuMode(ctx, 'headlessgl');
    const rng = new Rng(5);
    const [batch, inDim, hidden, experts, k] = [16, 6, 8, 4, 2];
    const m = 2; // bits for 4 experts
    const shapes: number[][] = [];
    for (let e = 0; e < experts; e++) shapes.push([inDim, hidden], [hidden]);
    shapes.push([inDim, experts]); // task 0: per-example softmax gate
    shapes.push([k, m], [k]); // task 1: static DSelect-k gate (z, α)
    shapes.push([hidden, 1], [hidden, 1]); // task towers
    const values = randomValues(rng, shapes);
    // z away from the smooth-step kinks at ±γ/2.
    values[2 * experts + 1] = Float32Array.from([0.1, -0.2, 0.3, 0.05]);
    const x = Float32Array.from(randn([batch, inDim], { rng }).toArray());
    const targets = [0, 1].map(() => Float32Array.from(randn([batch, 1], { rng }).toArray()));
    const forward = (p: Tensor[]): { loss: Tensor; outputs: Tensor[] } => {
      const xs = tensor(x, { shape: [batch, inDim] });
      const outs: Tensor[] = [];
      for (let e = 0; e < experts; e++) outs.push(matmul(xs, p[2 * e]!).add(p[2 * e + 1]!).relu());
      const stacked = stack(outs, 1); // [B, E, H]
      const gate0 = softmax(matmul(xs, p[2 * experts]!), 1); // [B, E]
      const gate1 = dselectKWeights(p[2 * experts + 1]!, p[2 * experts + 2]!, experts); // [E]
      const mixed0 = sum(stacked.mul(gate0.reshape([batch, experts, 1])), 1); // [B, H]
      const mixed1 = sum(stacked.mul(gate1.reshape([1, experts, 1])), 1);
      const y0 = matmul(mixed0, p[2 * experts + 3]!);
      const y1 = matmul(mixed1, p[2 * experts + 4]!).tanh();
      const loss = y0
        .sub(tensor(targets[0]!, { shape: [batch, 1] }))
        .square()
        .mean()
        .add(y1.sub(tensor(targets[1]!, { shape: [batch, 1] })).abs().mean());
      return { loss, outputs: [y0, y1, gate0, gate1] };
    };
    const c = runStep(ctx, 'cpu', values, shapes, forward);
    const g = runStep(ctx, 'gpu', values, shapes, forward);
    expect(Math.abs(g.loss - c.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(c.loss) + 1e-7);
    ['y0', 'y1', 'softmax gate', 'dselect gate'].forEach((n, i) => expectSimilar(n, g.outputs[i]!, c.outputs[i]!));
    c.grads.forEach((cg, i) => expectSimilar(`grad of parameter ${i} ${JSON.stringify(shapes[i])}`, g.grads[i]!, cg));
  });
});

describe('memory', () => {
  it('1,000 SGD steps of an MLP inside tidy keep device memory flat, GL textures included', (ctx) => {
    gpu = needGpuMode(ctx, 'headlessgl');
    const rng = new Rng(2);
    const [batch, inDim, hidden] = [64, 8, 32];
    const x = randn([batch, inDim], { rng });
    const wTrue = randn([inDim, 1], { rng });
    const y = noGrad(() => matmul(x, wTrue).tanh());
    const params = [randn([inDim, hidden], { rng, std: 0.3 }), randn([hidden], { rng, std: 0.1 }), randn([hidden, 1], { rng, std: 0.3 })].map((p) => {
      p.requiresGrad = true;
      return keep(p);
    });
    const lr = 0.05;
    const step = (): number =>
      tidy(() => {
        const [w1, b1, w2] = params as [Tensor, Tensor, Tensor];
        const loss = matmul(matmul(x, w1).add(b1).relu(), w2).sub(y).square().mean();
        loss.backward();
        noGrad(() => {
          for (const p of params) {
            p.setStorage(p.sub(p.grad!.mul(lr)).storage);
            p.zeroGrad();
          }
        });
        return loss.item();
      });
    const losses: number[] = [];
    let at100 = gpu.info().stats;
    for (let i = 1; i <= 1000; i++) {
      losses.push(step());
      if (i === 100) at100 = gpu.info().stats;
    }
    const at1000 = gpu.info().stats;
    console.log(`[gpu-training] mode '${gpu.info().mode}': device stats after 100 steps ${JSON.stringify(at100)}, after 1000 ${JSON.stringify(at1000)}`);
    expect(at1000.liveStorages).toBe(at100.liveStorages);
    expect(at1000.liveTextures).toBe(at100.liveTextures);
    expect(at1000.kernels).toBe(at100.kernels);
    expect(at1000.glTextures, 'GL textures are counted in headlessgl mode').not.toBeNull();
    expect(at1000.glTextures).toBe(at100.glTextures);
    expect(at1000.liveTextures).toBeGreaterThan(0); // the parameters live in textures
    for (const p of params) expect(p.storage).toBeInstanceOf(GpuStorage);
    // The loop really trained.
    expect(losses[999]!).toBeLessThan(losses[0]! * 0.5);
  });
});
