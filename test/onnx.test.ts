import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Activation, buildMMoE, CnnExpert, Dropout, fit, LayerNorm, Linear, MLP, MMoE, Module, noGrad, randn, Rng, Sequential, tensor, type GateSpec, type Tensor } from '../src/index.js';
import { decodeOnnxModel, exportOnnx } from '../src/onnx/index.js';

/**
 * Exported models run in onnxruntime (onnxruntime-node, its CPU execution provider) and must give our
 * eval outputs within 1e-5: every gate kind (static and per-example), MLP and CNN experts, saturated
 * (binary) DSelect-k selectors, several opsets.
 */
const TOLERANCE = 1e-5;

async function runOnnx(bytes: Uint8Array, x: Tensor): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds = { x: new ort.Tensor('float32', Float32Array.from(x.toArray()), [...x.shape]) };
  const results = await session.run(feeds);
  return Object.fromEntries(Object.entries(results).map(([name, t]) => [name, t.data as Float32Array]));
}

function ours(model: MMoE, x: Tensor): Record<string, Float32Array> {
  model.eval();
  const out = noGrad(() => model.forward(x));
  const entries: [string, Float32Array][] = [];
  out.outputs.forEach((o, t) => entries.push([`output_${t}`, Float32Array.from(o.toArray())]));
  out.gateWeights.forEach((w, t) => entries.push([`gate_weights_${t}`, Float32Array.from(w.toArray())]));
  return Object.fromEntries(entries);
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

async function expectSameAsOnnx(model: MMoE, x: Tensor, opset?: number): Promise<Record<string, Float32Array>> {
  const expected = ours(model, x);
  const got = await runOnnx(await exportOnnx(model, opset === undefined ? {} : { opset }), x);
  expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, values] of Object.entries(expected)) {
    expect(maxDifference(got[name]!, values), name).toBeLessThanOrEqual(TOLERANCE);
    // Exact zeros stay exact: the experts a sparse gate leaves out get weight 0 in onnxruntime too.
    if (name.startsWith('gate_weights')) values.forEach((v, i) => expect(got[name]![i] === 0, `${name}[${i}]`).toBe(v === 0));
  }
  return got;
}

const GATES: [string, GateSpec][] = [
  ['DSelect-k static', { type: 'dselect-k', k: 2, gamma: 0.7 }],
  ['DSelect-k per-example', { type: 'dselect-k', k: 2, perExample: true }],
  ['softmax per-example', { type: 'softmax' }],
  ['softmax static', { type: 'softmax', perExample: false }],
  ['top-k', { type: 'top-k', k: 2 }],
  ['noisy top-k (inference: no noise)', { type: 'noisy-top-k', k: 3 }],
];

function trainedMlpModel(gate: GateSpec, numExperts = 5): MMoE {
  const model = buildMMoE({ inputDim: 7, numTasks: 2, numExperts, expertHidden: [9], expertOutputDim: 4, towerHidden: [3], taskOutputDims: [1, 3], gate, seed: 4 });
  const labels = new Rng(2);
  const y = tensor(Array.from({ length: 128 }, (_, i) => (i % 2 === 0 ? labels.normal() : labels.int(3))), { shape: [64, 2] });
  const data = { x: randn([64, 7], { rng: new Rng(1) }), y };
  fit(model, data, { epochs: 3, batchSize: 16, lr: 0.05, losses: ['mse', 'ce'], seed: 1 });
  return model;
}

describe('ONNX export, run in onnxruntime', () => {
  for (const [name, gate] of GATES) {
    it(`MMoE with MLP experts and ${name} gates (5 experts: unreachable DSelect-k codes too)`, async () => {
      await expectSameAsOnnx(trainedMlpModel(gate), randn([33, 7], { rng: new Rng(9) }));
    });
  }

  it('binary (saturated) DSelect-k gates, static and per-example: exact zeros and exact one-hot selectors', async () => {
    const model = buildMMoE({ inputDim: 4, numTasks: 2, numExperts: 8, expertHidden: [6], expertOutputDim: 3, gate: { type: 'dselect-k', k: 2 }, seed: 2 });
    const set = (name: string, values: number[]): void => {
      const p = model.namedParameters().find(([n]) => n === name)![1];
      p.setStorage(tensor(values, { shape: p.shape }).storage);
    };
    set('gates.0.z', [2, -2, 0.5, -0.7, 3, 0.9]); // selector 0 saturated on code 5 (0.5 is exactly γ/2: constant branch)
    set('gates.1.z', [-4, -4, -4, 0.3, -0.1, 0.2]); // selector 0 saturated on code 0
    const x = randn([10, 4], { rng: new Rng(3) });
    const got = await expectSameAsOnnx(model, x);
    expect(Array.from(got['gate_weights_0']!.slice(0, 8)).filter((v) => v === 0).length).toBeGreaterThanOrEqual(6);

    const perExample = buildMMoE({ inputDim: 4, numTasks: 1, numExperts: 4, expertHidden: [5], expertOutputDim: 2, gate: { type: 'dselect-k', k: 1, perExample: true }, seed: 3 });
    const zMap = perExample.namedParameters().find(([n]) => n === 'gates.0.zMap.weight')![1];
    zMap.setStorage(tensor([40, -30, 20, 10, -25, 35, -15, 30], { shape: zMap.shape }).storage); // steep: every row saturates
    const rowsGot = await expectSameAsOnnx(perExample, randn([12, 4], { rng: new Rng(4) }));
    const weights = rowsGot['gate_weights_0']!;
    for (let r = 0; r < 12; r++) expect(Array.from(weights.slice(r * 4, r * 4 + 4)).sort()).toEqual([0, 0, 0, 1]);
  });

  it('MMoE with CNN experts (the paper’s expert on 16×16 images) and DSelect-k, softmax and top-k gates', async () => {
    for (const gate of [{ type: 'dselect-k', k: 2, perExample: true }, { type: 'softmax', perExample: false }, { type: 'top-k', k: 1 }] as GateSpec[]) {
      const model = buildMMoE({
        inputDim: 256,
        numTasks: 2,
        numExperts: 3,
        expertOutputDim: 6,
        gate,
        taskOutputDims: 10,
        expertFactory: (_i, rng) => new CnnExpert({ inputShape: [1, 16, 16], filters: [4, 5], kernelSize: 3, dense: [8, 6], rng }),
        seed: 6,
      });
      await expectSameAsOnnx(model, randn([5, 256], { rng: new Rng(7) }).abs());
    }
  });

  it('the same graph under opsets 13, 18 and 21 (reductions take axes as attribute or input)', async () => {
    const model = trainedMlpModel({ type: 'dselect-k', k: 3, perExample: true }, 6);
    const x = randn([8, 7], { rng: new Rng(5) });
    for (const opset of [13, 18, 21]) await expectSameAsOnnx(model, x, opset);
  });

  it('plain layers: a Sequential with LayerNorm (op at opset 17, composed at 13), Dropout and activations', async () => {
    const rng = new Rng(8);
    const model = new Sequential([new Linear(5, 6, { rng }), new LayerNorm(6, { eps: 1e-3 }), new Activation('softplus'), new Dropout(0.5, { seed: 1 }), new MLP({ inputDim: 6, hidden: [4], outputDim: 2, activation: 'sigmoid', rng })]);
    const x = randn([6, 5], { rng: new Rng(9) });
    model.eval();
    const expected = model.forward(x).toArray();
    for (const opset of [13, 17]) {
      const got = await runOnnx(await exportOnnx(model, { opset }), x);
      expect(maxDifference(got['output']!, expected), `opset ${opset}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('writes a well-formed model: IR version, opset, named inputs and outputs with a symbolic batch', async () => {
    const model = trainedMlpModel({ type: 'top-k', k: 2 });
    const decoded = (await decodeOnnxModel(await exportOnnx(model, { opset: 17, metadata: { trainedOn: 'test' } }))) as {
      ir_version: number;
      opset_import: { version: number }[];
      metadata_props: { key: string; value: string }[];
      graph: { input: { name: string; type: { tensor_type: { shape: { dim: { dim_param?: string; dim_value?: number }[] } } } }[]; output: { name: string }[] };
    };
    expect(decoded.ir_version).toBe(8);
    expect(decoded.opset_import[0]!.version).toBe(17);
    expect(decoded.metadata_props).toEqual([{ key: 'trainedOn', value: 'test' }]);
    expect(decoded.graph.input[0]!.name).toBe('x');
    expect(decoded.graph.input[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 7 }]);
    expect(decoded.graph.output.map((o) => o.name)).toEqual(['output_0', 'gate_weights_0', 'output_1', 'gate_weights_1']);
  });

  it('names what it cannot export', async () => {
    const f64 = new Linear(2, 2, { dtype: 'float64' });
    await expect(exportOnnx(f64)).rejects.toThrow("exportOnnx: parameter 'weight' is float64");
    await expect(exportOnnx(new Linear(2, 2), { opset: 9 })).rejects.toThrow('exportOnnx: opset must be an integer in [13, 21], got 9');
    class Custom extends Module {
      forward(t: Tensor): Tensor {
        return t;
      }
    }
    await expect(exportOnnx(new Sequential([new Linear(2, 2), new Custom()]))).rejects.toThrow(/exportOnnx: 1 is a Custom, which has no ONNX export/);
  });
});
