import {
  add,
  Adam,
  buildMMoE,
  CnnExpert,
  dselectKWeights,
  matmul,
  mseLoss,
  randn,
  Rng,
  softmax,
  softmaxCrossEntropy,
  stack,
  sum,
  tensor,
  type Tensor,
} from '../../src/index.js';
import { GpuStorage } from '../../src/kernels/gpu/storage.js';
import { worstRelativeToMax } from './compare.js';

/**
 * Whole training steps on the gpu backend against the cpu backend, as data: one list run by
 * gpu-training.test.ts on the synchronous GPU.js modes and by the Chromium test on webgpu. A case
 * builds the same model and batch on whichever backend is active and returns the tensors to compare
 * (loss, outputs, every gradient, the loss after Adam steps). Gradients mix many rounding paths, so
 * each array is compared as |gpu − cpu| ≤ atol + rtol·max|cpu|.
 */
export interface ModelCase {
  name: string;
  /** One step on the active backend; the named tensors to compare. */
  run(): Map<string, Tensor>;
  rtol: number;
  atol: number;
}

export interface ModelCaseResult {
  name: string;
  failure: string | null;
  /** Names compared. */
  compared: string[];
}

/** Fresh leaves holding the same values on whichever backend is active. */
function leaves(values: readonly Float32Array[], shapes: readonly number[][]): Tensor[] {
  return values.map((v, i) => tensor(v.slice(), { shape: shapes[i]!, requiresGrad: true }));
}

function randomValues(rng: Rng, shapes: readonly number[][], scale = 0.5): Float32Array[] {
  return shapes.map((s) => Float32Array.from(randn(s, { rng, std: scale }).toArray()));
}

function mlpCase(): ModelCase {
  const rng = new Rng(11);
  const [batch, inDim, hidden] = [32, 12, 24];
  const shapes = [[inDim, hidden], [hidden], [hidden, 1], [1]];
  const values = randomValues(rng, shapes);
  const x = Float32Array.from(randn([batch, inDim], { rng }).toArray());
  const y = Float32Array.from(randn([batch, 1], { rng }).toArray());
  return {
    name: '2-layer MLP regression: loss, prediction and every gradient',
    rtol: 1e-4,
    atol: 1e-6,
    run: () => {
      const [w1, b1, w2, b2] = leaves(values, shapes);
      const pred = matmul(matmul(tensor(x, { shape: [batch, inDim] }), w1!).add(b1!).relu(), w2!).add(b2!);
      const loss = pred.sub(tensor(y, { shape: [batch, 1] })).square().mean();
      loss.backward();
      return new Map([['loss', loss], ['prediction', pred], ...[w1!, b1!, w2!, b2!].map((p, i): [string, Tensor] => [`grad ${['w1', 'b1', 'w2', 'b2'][i]}`, p.grad!])]);
    },
  };
}

function manualMoECase(): ModelCase {
  const rng = new Rng(5);
  const [batch, inDim, hidden, experts, k] = [16, 6, 8, 4, 2];
  const m = 2; // bits for 4 experts
  const shapes: number[][] = [];
  for (let e = 0; e < experts; e++) shapes.push([inDim, hidden], [hidden]);
  shapes.push([inDim, experts]); // task 0: per-example softmax gate
  shapes.push([k, m], [k]); // task 1: static DSelect-k gate (z, α)
  shapes.push([hidden, 1], [hidden, 1]); // task towers
  const values = randomValues(rng, shapes);
  values[2 * experts + 1] = Float32Array.from([0.1, -0.2, 0.3, 0.05]); // z away from the kinks at ±γ/2
  const x = Float32Array.from(randn([batch, inDim], { rng }).toArray());
  const targets = [0, 1].map(() => Float32Array.from(randn([batch, 1], { rng }).toArray()));
  return {
    name: 'multi-task mixture of experts from ops (softmax and DSelect-k gates)',
    rtol: 1e-4,
    atol: 1e-6,
    run: () => {
      const p = leaves(values, shapes);
      const xs = tensor(x, { shape: [batch, inDim] });
      const outs: Tensor[] = [];
      for (let e = 0; e < experts; e++) outs.push(matmul(xs, p[2 * e]!).add(p[2 * e + 1]!).relu());
      const stacked = stack(outs, 1); // [B, E, H]
      const gate0 = softmax(matmul(xs, p[2 * experts]!), 1);
      const gate1 = dselectKWeights(p[2 * experts + 1]!, p[2 * experts + 2]!, experts);
      const y0 = matmul(sum(stacked.mul(gate0.reshape([batch, experts, 1])), 1), p[2 * experts + 3]!);
      const y1 = matmul(sum(stacked.mul(gate1.reshape([1, experts, 1])), 1), p[2 * experts + 4]!).tanh();
      const loss = y0
        .sub(tensor(targets[0]!, { shape: [batch, 1] }))
        .square()
        .mean()
        .add(y1.sub(tensor(targets[1]!, { shape: [batch, 1] })).abs().mean());
      loss.backward();
      return new Map<string, Tensor>([
        ['loss', loss],
        ['y0', y0],
        ['y1', y1],
        ['softmax gate', gate0],
        ['dselect gate', gate1],
        ...p.map((t, i): [string, Tensor] => [`grad ${i} ${JSON.stringify(shapes[i])}`, t.grad!]),
      ]);
    },
  };
}

/** A model, a batch and a loss: one gradient step compared, then `adamSteps` more steps' losses. */
function trainedModelCase(name: string, build: () => { model: ReturnType<typeof buildMMoE>; lossOf: () => Tensor }, adamSteps: number, rtol: number): ModelCase {
  return {
    name,
    rtol,
    atol: 1e-6,
    run: () => {
      const { model, lossOf } = build();
      const optimizer = new Adam(model, { lr: 1e-3 });
      const out = new Map<string, Tensor>();
      const loss = lossOf();
      loss.backward();
      out.set('loss', loss);
      for (const [n, p] of model.namedParameters()) out.set(`grad ${n}`, p.grad!.detach());
      optimizer.step();
      for (let s = 1; s <= adamSteps; s++) {
        optimizer.zeroGrad();
        const l = lossOf();
        l.backward();
        optimizer.step();
        out.set(`loss after ${s} Adam step${s > 1 ? 's' : ''}`, l);
      }
      return out;
    },
  };
}

function mlpMMoECase(): ModelCase {
  return trainedModelCase(
    'MMoE (4 MLP experts, per-example softmax gates, fused bias+ReLU / expert mixture / Adam): gradients and 2 Adam steps',
    () => {
      const model = buildMMoE({ inputDim: 12, numTasks: 2, numExperts: 4, expertHidden: [16], expertOutputDim: 8, gate: { type: 'softmax', perExample: true }, seed: 2 });
      const rng = new Rng(9);
      const x = randn([32, 12], { rng });
      const ys = [randn([32, 1], { rng }), randn([32, 1], { rng })];
      return { model, lossOf: () => add(...(model.forward(x).outputs.map((o, t) => mseLoss(o, ys[t]!)) as [Tensor, Tensor])) };
    },
    2,
    1e-4,
  );
}

function dselectMMoECase(): ModelCase {
  return trainedModelCase(
    'MMoE with static DSelect-k gates (5 experts: reachability penalty, entropy): gradients and 2 Adam steps',
    () => {
      const model = buildMMoE({ inputDim: 10, numTasks: 2, numExperts: 5, expertHidden: [12], expertOutputDim: 6, gate: { type: 'dselect-k', k: 2, entropyWeight: 0.01 }, seed: 4 });
      const rng = new Rng(10);
      const x = randn([24, 10], { rng });
      const ys = [randn([24, 1], { rng }), randn([24, 1], { rng })];
      return {
        model,
        lossOf: () => {
          const { outputs, regularization } = model.forward(x);
          const l = add(mseLoss(outputs[0]!, ys[0]!), mseLoss(outputs[1]!, ys[1]!));
          return regularization ? add(l, regularization) : l;
        },
      };
    },
    2,
    1e-4,
  );
}

function cnnMMoECase(): ModelCase {
  return trainedModelCase(
    'CNN MMoE (2 paper CNN experts on 36×36: conv, max-pool, dense; softmax gates, cross-entropy): gradients and 1 Adam step',
    () => {
      const model = buildMMoE({
        inputDim: 36 * 36,
        numTasks: 2,
        numExperts: 2,
        gate: { type: 'softmax', perExample: true },
        expertOutputDim: 50,
        towerHidden: [50],
        taskOutputDims: 10,
        expertFactory: (_i, rng) => new CnnExpert({ rng }),
        seed: 0,
      });
      const rng = new Rng(3);
      const x = randn([3, 1, 36, 36], { rng });
      const labels = [
        [3, 7, 1],
        [0, 9, 4],
      ];
      return { model, lossOf: () => add(...(model.forward(x).outputs.map((o, t) => softmaxCrossEntropy(o, labels[t]!)) as [Tensor, Tensor])) };
    },
    1,
    2e-4,
  );
}

export function modelCases(): ModelCase[] {
  return [mlpCase(), manualMoECase(), mlpMMoECase(), dselectMMoECase(), cnnMMoECase()];
}

/**
 * Runs a case on the cpu backend (`onCpu` activates it) and on the gpu backend (`onGpu`), reads the
 * gpu tensors back asynchronously (the webgpu form) and compares every named tensor; with
 * `deviceMemory` each must also live in device memory (a texture or a buffer, not a host array).
 */
export async function runModelCase(c: ModelCase, onCpu: () => void, onGpu: () => void, deviceMemory: boolean): Promise<ModelCaseResult> {
  const result = (failure: string | null, compared: string[] = []): ModelCaseResult => ({ name: c.name, failure, compared });
  onCpu();
  const want = new Map([...c.run()].map(([k, t]) => [k, Float32Array.from(t.toArray())]));
  onGpu();
  try {
    const got = c.run();
    const names = [...want.keys()];
    if (names.join() !== [...got.keys()].join()) return result(`the gpu run named ${[...got.keys()].join(', ')}; the cpu run ${names.join(', ')}`);
    for (const name of names) {
      const t = got.get(name)!;
      if (!(t.storage instanceof GpuStorage)) return result(`${name} is not on the gpu backend`);
      if (deviceMemory && !t.storage.onTexture) return result(`${name} is in host memory, not in device memory`);
      const bad = worstRelativeToMax(await t.data(), want.get(name)!, c.rtol, c.atol);
      if (bad) return result(`${name}: ${bad}`);
    }
    return result(null, names);
  } catch (e) {
    return result(`threw: ${(e as Error).stack ?? String(e)}`);
  }
}
