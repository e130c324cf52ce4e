import { CnnExpert } from '../nn/cnn-expert.js';
import { Linear } from '../nn/linear.js';
import { MLP } from '../nn/mlp.js';
import { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import { Gate } from '../moe/gate.js';
import { MMoE } from '../moe/mmoe.js';
import { MoE } from '../moe/moe-layer.js';
import { emitGate, emitLayer, expandRows, mixture } from './emit.js';
import { OnnxGraph } from './graph.js';
import { encodeOnnxModel, ONNX_FLOAT } from './proto.js';

export interface OnnxExportOptions {
  /** ONNX operator set (default 17; 13 … 21 supported). */
  opset?: number;
  /** Features per example, when the model cannot tell (e.g. only static gates and custom experts). */
  inputDim?: number;
  /** Name of the graph (default the model's class). */
  graphName?: string;
  /** Key/value strings stored in the model's metadata_props. */
  metadata?: Record<string, string>;
  /** Written as producer_version (default 'unknown'). */
  producerVersion?: string;
  /** Standardise the raw input first, x' = (x − mean) / std per feature (what a run trained on a CSV does to its inputs). */
  inputScaling?: readonly AffineMap[];
  /** Map each task output of an MMoE back to its units, y · std + mean (null: leave that output as it is). */
  outputScaling?: readonly (AffineMap | null)[];
}

/** stored = (raw − mean) / std. */
export interface AffineMap {
  mean: number;
  std: number;
}

export const ONNX_OPSETS = { min: 13, max: 21, default: 17 } as const;

/** The IR version that goes with an opset (ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/** What the exported graph computes: its input and named outputs. */
export interface OnnxSignature {
  input: { name: string; features: number };
  outputs: { name: string; description: string }[];
}

/**
 * Exports a trained model for inference in any ONNX runtime (onnxruntime in servers, browsers and
 * phones; conversion to other frameworks). Input `x` [batch, features] float32. An MMoE gives
 * `output_t` for each task and `gate_weights_t` [batch, experts]; a MoE `output` and `gate_weights`;
 * a plain layer (MLP, Sequential, CnnExpert, …) `output`. Inference semantics: eval mode, no noise,
 * no regularisers; the DSelect-k smooth-step and selector products are standard ops (Where, Mul,
 * ReduceProd, Softmax, ReduceSum), Top-k is TopK + Softmax + ScatterElements.
 */
export async function exportOnnx(model: Module, opts: OnnxExportOptions = {}): Promise<Uint8Array> {
  return (await buildOnnx(model, opts)).bytes;
}

/** `exportOnnx`, also returning the graph's signature. */
export async function buildOnnx(model: Module, opts: OnnxExportOptions = {}): Promise<{ bytes: Uint8Array; signature: OnnxSignature }> {
  if (!(model instanceof Module)) throw new Error(`exportOnnx: model must be a Module, got ${model === null ? 'null' : typeof model}`);
  const opset = opts.opset ?? ONNX_OPSETS.default;
  if (!Number.isInteger(opset) || opset < ONNX_OPSETS.min || opset > ONNX_OPSETS.max) {
    throw new Error(`exportOnnx: opset must be an integer in [${ONNX_OPSETS.min}, ${ONNX_OPSETS.max}], got ${String(opset)}`);
  }
  const float64 = model.namedParameters().find(([, p]) => p.dtype !== 'float32');
  if (float64) throw new Error(`exportOnnx: parameter '${float64[0]}' is ${float64[1].dtype}; export float32 models (build the model with dtype 'float32')`);
  const features = opts.inputDim ?? inputWidth(model);
  if (features === null || !Number.isInteger(features) || features < 1) {
    throw new Error(`exportOnnx: cannot tell how many features ${model.constructor.name} takes; pass { inputDim }`);
  }
  const g = new OnnxGraph(opset);
  const raw = g.reserve('x');
  const x = opts.inputScaling ? standardise(g, raw, opts.inputScaling, features) : raw;
  const outputs: { name: string; value: string; width: number | null; description: string }[] = [];
  if (model instanceof MMoE && model.constructor === MMoE) {
    const experts = model.experts.items.map((e, i) => emitLayer(g, e, x, `experts.${i}`));
    model.gates.items.forEach((gate, t) => {
      const q = emitGate(g, gate, x, `gates.${t}`);
      const tower = emitLayer(g, model.towers.at(t), mixture(g, experts, q, model.numExperts, `task${t}`), `towers.${t}`);
      const scaling = opts.outputScaling?.[t] ?? null;
      const value = scaling ? g.node('Add', [g.node('Mul', [tower, g.constant([scaling.std])]), g.constant([scaling.mean])], {}, `task${t}.unscaled`) : tower;
      outputs.push({ name: `output_${t}`, value, width: outputWidth(model.towers.at(t)), description: `task ${t}'s output` });
      outputs.push({ name: `gate_weights_${t}`, value: rows(g, q, x, model.numExperts, `gates.${t}`), width: model.numExperts, description: `task ${t}'s gate weights` });
    });
  } else if (opts.outputScaling) {
    throw new Error('exportOnnx: outputScaling applies to the task outputs of an MMoE');
  } else if (model instanceof MoE && model.constructor === MoE) {
    const experts = model.experts.items.map((e, i) => emitLayer(g, e, x, `experts.${i}`));
    const q = emitGate(g, model.gate, x, 'gate');
    outputs.push({ name: 'output', value: mixture(g, experts, q, model.numExperts, 'moe'), width: null, description: 'the mixture' });
    outputs.push({ name: 'gate_weights', value: rows(g, q, x, model.numExperts, 'gate'), width: model.numExperts, description: 'gate weights' });
  } else if (model instanceof Gate) {
    outputs.push({ name: 'gate_weights', value: rows(g, emitGate(g, model, x, 'gate'), x, model.numExperts, 'gate'), width: model.numExperts, description: 'gate weights' });
  } else {
    outputs.push({ name: 'output', value: emitLayer(g, model, x, ''), width: outputWidth(model), description: 'the layer output' });
  }
  // Graph outputs get their public names through Identity nodes.
  const graphOutputs = outputs.map((o) => {
    g.nodes.push({ input: [o.value], output: [g.reserve(o.name)], name: g.fresh(`node_${o.name}`), op_type: 'Identity', attribute: [] });
    return valueInfo(o.name, o.width === null ? ['batch', null] : ['batch', o.width]);
  });
  const bytes = await encodeOnnxModel({
    ir_version: irVersionFor(opset),
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'dselect-k',
    producer_version: opts.producerVersion ?? 'unknown',
    doc_string: `${model.constructor.name} exported by dselect-k (inference: eval mode, no noise, no regularisers)`,
    metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value: String(value) })),
    graph: {
      name: opts.graphName ?? model.constructor.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('x', ['batch', features])],
      output: graphOutputs,
    },
  });
  return { bytes, signature: { input: { name: 'x', features }, outputs: outputs.map((o) => ({ name: o.name, description: o.description })) } };
}

function standardise(g: OnnxGraph, x: string, scaling: readonly AffineMap[], features: number): string {
  if (scaling.length !== features) throw new Error(`exportOnnx: inputScaling has ${scaling.length} entries for ${features} input features`);
  scaling.forEach((s, i) => {
    if (!Number.isFinite(s.mean) || !Number.isFinite(s.std) || s.std === 0) throw new Error(`exportOnnx: inputScaling[${i}] needs a finite mean and a finite non-zero std, got ${JSON.stringify(s)}`);
  });
  const centred = g.node('Sub', [x, g.floats('input_mean', scaling.map((s) => s.mean), [features])]);
  return g.node('Div', [centred, g.floats('input_std', scaling.map((s) => s.std), [features])], {}, 'x_standardised');
}

function rows(g: OnnxGraph, q: { weights: string; isStatic: boolean }, x: string, numExperts: number, path: string): string {
  return q.isStatic ? expandRows(g, q.weights, x, numExperts, `${path}.weights_rows`) : q.weights;
}

function valueInfo(name: string, dims: readonly (string | number | null)[]): Record<string, unknown> {
  return {
    name,
    type: { tensor_type: { elem_type: ONNX_FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})) } } },
  };
}

/** Features a module takes per example, when its structure says so. */
function inputWidth(m: Module): number | null {
  if (m instanceof MMoE || m instanceof MoE) {
    const gates: Gate[] = m instanceof MMoE ? [...m.gates.items] : [m.gate];
    const fromGate = gates.find((gate) => gate.inputDim !== null)?.inputDim;
    return fromGate ?? inputWidth(m instanceof MMoE ? m.experts.at(0) : m.experts.at(0));
  }
  if (m instanceof Gate) return m.inputDim;
  if (m instanceof Linear) return m.inDim;
  if (m instanceof MLP) return m.inputDim;
  if (m instanceof CnnExpert) return m.inputShape.reduce((a, b) => a * b, 1);
  if (m instanceof Sequential) return m.layers.length > 0 ? inputWidth(m.layers[0]!) : null;
  return null;
}

function outputWidth(m: Module): number | null {
  if (m instanceof Linear) return m.outDim;
  if (m instanceof MLP || m instanceof CnnExpert) return m.outputDim;
  return null;
}
