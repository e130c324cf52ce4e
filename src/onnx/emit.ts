import { Activation } from '../nn/activation-layer.js';
import type { ActivationName } from '../nn/activation.js';
import { CnnExpert } from '../nn/cnn-expert.js';
import { Conv2d, Flatten, MaxPool2d } from '../nn/conv2d.js';
import { Dropout } from '../nn/dropout.js';
import { LayerNorm } from '../nn/layer-norm.js';
import { Linear } from '../nn/linear.js';
import { MLP } from '../nn/mlp.js';
import type { Module } from '../nn/module.js';
import { Sequential } from '../nn/sequential.js';
import { DSelectKGate } from '../moe/dselect-gate.js';
import type { Gate } from '../moe/gate.js';
import { NoisyTopKGate } from '../moe/noisy-top-k-gate.js';
import { SoftmaxGate } from '../moe/softmax-gate.js';
import { TopKGate } from '../moe/top-k-gate.js';
import type { Tensor } from '../tensor/tensor.js';
import { ONNX_FLOAT } from './proto.js';
import type { OnnxGraph } from './graph.js';

/**
 * Each layer's inference computation in standard ONNX ops, mirroring the order of our own kernels so
 * that float32 results agree to rounding. `path` is the module's dotted name (used for weight names).
 */

function values(t: Tensor): Float32Array {
  return Float32Array.from(t.toArray());
}

/** W [out, in] stored transposed, so that x [..., in] · Wᵀ is one MatMul for inputs of any rank. */
function linear(g: OnnxGraph, layer: Linear, x: string, path: string): string {
  const w = values(layer.weight);
  const t = new Float32Array(w.length);
  for (let o = 0; o < layer.outDim; o++) for (let i = 0; i < layer.inDim; i++) t[i * layer.outDim + o] = w[o * layer.inDim + i]!;
  const y = g.node('MatMul', [x, g.floats(`${path}.weight_t`, t, [layer.inDim, layer.outDim])], {}, `${path}.matmul`);
  const bias = layer.bias;
  return bias ? g.node('Add', [y, g.floats(`${path}.bias`, values(bias), [layer.outDim])], {}, `${path}.out`) : y;
}

function activation(g: OnnxGraph, name: ActivationName, x: string, path: string): string {
  switch (name) {
    case 'identity':
      return x;
    case 'relu':
      return g.node('Relu', [x], {}, `${path}.relu`);
    case 'tanh':
      return g.node('Tanh', [x], {}, `${path}.tanh`);
    case 'sigmoid':
      return g.node('Sigmoid', [x], {}, `${path}.sigmoid`);
    case 'softplus':
      return g.node('Softplus', [x], {}, `${path}.softplus`);
  }
}

function conv(g: OnnxGraph, c: Conv2d, x: string, path: string, withBias: boolean): string {
  const inputs = [x, g.floats(`${path}.weight`, values(c.weight), [...c.weight.shape])];
  if (withBias && c.bias) inputs.push(g.floats(`${path}.bias`, values(c.bias), [c.outChannels]));
  const p = c.padding;
  return g.node('Conv', inputs, { kernel_shape: { ints: [c.kernelH, c.kernelW] }, strides: { ints: [c.stride, c.stride] }, pads: { ints: [p, p, p, p] } }, `${path}.conv`);
}

function maxPool(g: OnnxGraph, pool: MaxPool2d, x: string, path: string): string {
  return g.node('MaxPool', [x], { kernel_shape: { ints: [pool.kernel, pool.kernel] }, strides: { ints: [pool.stride, pool.stride] } }, `${path}.maxpool`);
}

/** Layers that map one tensor to one tensor. Unsupported classes are an error naming the path and class. */
export function emitLayer(g: OnnxGraph, m: Module, x: string, path: string): string {
  if (m.constructor === Linear) return linear(g, m as Linear, x, path);
  if (m.constructor === MLP) {
    const mlp = m as MLP;
    let h = x;
    mlp.layers.items.forEach((layer, i) => {
      const p = `${path}.layers.${i}`;
      h = activation(g, i + 1 < mlp.layers.length ? mlp.activation : mlp.outputActivation, linear(g, layer, h, p), p);
    });
    return h;
  }
  if (m.constructor === CnnExpert) {
    const cnn = m as CnnExpert;
    const [c, hgt, wid] = cnn.inputShape;
    const pool = cnn.namedChildren().find(([n]) => n === 'pool')![1] as MaxPool2d;
    // Rows [N, C·H·W] or images [N, C, H, W] alike: reshape to images (as CnnExpert.forward does).
    let h = g.reshape(x, [-1, c, hgt, wid]);
    cnn.convs.items.forEach((layer, i) => {
      // relu(maxPool(conv(x)) + b), the order of convPoolRelu.
      const p = `${path}.convs.${i}`;
      const pooled = maxPool(g, pool, conv(g, layer, h, p, false), p);
      const biased = layer.bias ? g.node('Add', [pooled, g.floats(`${p}.bias`, values(layer.bias), [layer.outChannels, 1, 1])], {}, `${p}.bias_add`) : pooled;
      h = g.node('Relu', [biased], {}, `${p}.relu`);
    });
    h = g.node('Flatten', [h], { axis: { int: 1 } }, `${path}.flatten`);
    cnn.dense.items.forEach((layer, i) => {
      h = g.node('Relu', [linear(g, layer, h, `${path}.dense.${i}`)], {}, `${path}.dense.${i}.relu`);
    });
    return h;
  }
  if (m.constructor === Sequential) {
    let h = x;
    (m as Sequential).layers.forEach((layer, i) => (h = emitLayer(g, layer, h, path ? `${path}.${i}` : String(i))));
    return h;
  }
  if (m.constructor === Activation) return activation(g, (m as Activation).name, x, path);
  if (m.constructor === Dropout) return x; // identity at inference
  if (m.constructor === Flatten) return g.node('Flatten', [x], { axis: { int: 1 } }, `${path}.flatten`);
  if (m.constructor === MaxPool2d) return maxPool(g, m as MaxPool2d, x, path);
  if (m.constructor === Conv2d) return conv(g, m as Conv2d, x, path, true);
  if (m.constructor === LayerNorm) return layerNorm(g, m as LayerNorm, x, path);
  throw new Error(`exportOnnx: ${path || '(root)'} is a ${m.constructor.name}, which has no ONNX export (supported: Linear, MLP, CnnExpert, Conv2d, MaxPool2d, Flatten, Sequential, Activation, Dropout, LayerNorm, the gates, MoE, MMoE)`);
}

function layerNorm(g: OnnxGraph, norm: LayerNorm, x: string, path: string): string {
  const k = norm.normalizedShape.length;
  const axes = Array.from({ length: k }, (_, i) => i - k);
  const shape = [...norm.normalizedShape];
  const size = shape.reduce((a, b) => a * b, 1);
  const scale = norm.elementwiseAffine ? values(norm.namedParameters().find(([n]) => n === 'weight')![1]) : new Float32Array(size).fill(1);
  const shift = norm.elementwiseAffine ? values(norm.namedParameters().find(([n]) => n === 'bias')![1]) : new Float32Array(size);
  if (g.opset >= 17) {
    return g.node('LayerNormalization', [x, g.floats(`${path}.weight`, scale, shape), g.floats(`${path}.bias`, shift, shape)], { axis: { int: -k }, epsilon: { float: norm.eps } }, `${path}.layernorm`);
  }
  const centred = g.node('Sub', [x, g.reduce('ReduceMean', x, axes, true)], {}, `${path}.centred`);
  const variance = g.reduce('ReduceMean', g.node('Mul', [centred, centred]), axes, true);
  const std = g.node('Sqrt', [g.node('Add', [variance, g.constant([norm.eps])])]);
  const normalised = g.node('Div', [centred, std], {}, `${path}.normalised`);
  return g.node('Add', [g.node('Mul', [normalised, g.floats(`${path}.weight`, scale, shape)]), g.floats(`${path}.bias`, shift, shape)], {}, `${path}.out`);
}

/** A gate's weights: per example [N, n], or one row [n] for a static gate (`static` true). */
export interface GateValue {
  weights: string;
  isStatic: boolean;
}

export function emitGate(g: OnnxGraph, gate: Gate, x: string, path: string): GateValue {
  if (gate.constructor === SoftmaxGate) {
    const s = gate as SoftmaxGate;
    if (s.perExample) return { weights: g.node('Softmax', [linear(g, s.namedChildren()[0]![1] as Linear, x, `${path}.logits`)], { axis: { int: -1 } }, `${path}.weights`), isStatic: false };
    const alpha = s.namedParameters().find(([n]) => n === 'alpha')![1];
    return { weights: g.node('Softmax', [g.floats(`${path}.alpha`, values(alpha), [s.numExperts])], { axis: { int: -1 } }, `${path}.weights`), isStatic: true };
  }
  if (gate.constructor === TopKGate || gate.constructor === NoisyTopKGate) {
    // Inference: the clean logits' top k (noisy top-k adds noise in training only).
    const t = gate as TopKGate | NoisyTopKGate;
    const logits = linear(g, t.namedChildren().find(([n]) => n === 'logits')![1] as Linear, x, `${path}.logits`);
    return { weights: topKSoftmax(g, logits, t.k, path), isStatic: false };
  }
  if (gate.constructor === DSelectKGate) return dselect(g, gate as DSelectKGate, x, path);
  throw new Error(`exportOnnx: ${path} is a ${gate.constructor.name}, which has no ONNX export (supported: DSelectKGate, SoftmaxGate, TopKGate, NoisyTopKGate)`);
}

/**
 * softmax over each row's k largest logits, exact zeros elsewhere: TopK (ties to the lower index, as
 * ours), Softmax over the k values, ScatterElements into zeros.
 */
function topKSoftmax(g: OnnxGraph, logits: string, k: number, path: string): string {
  const [topValues, topIndices] = g.nodeN('TopK', [logits, g.int64s([k])], { axis: { int: -1 }, largest: { int: 1 }, sorted: { int: 1 } }, 2, `${path}.topk`);
  const probabilities = g.node('Softmax', [topValues!], { axis: { int: -1 } }, `${path}.topk_softmax`);
  const zero = { name: 'zero', dims: [1], data_type: ONNX_FLOAT, raw_data: new Uint8Array(new Float32Array([0]).buffer) };
  const zeros = g.node('ConstantOfShape', [g.node('Shape', [logits])], { value: { tensor: zero } }, `${path}.zeros`);
  return g.node('ScatterElements', [zeros, topIndices!, probabilities], { axis: { int: -1 } }, `${path}.weights`);
}

/**
 * DSelect-k: S = smooth-step(z) with its constant branches taken at ±γ/2 (Where on LessOrEqual /
 * GreaterOrEqual, so saturated selectors are exactly 0 or 1); selector r_e = Π_j (bit_j(e) ? S_j : 1 − S_j)
 * as Where over a constant bit table and ReduceProd over bits; q = Σ_i softmax(α)_i · r⁽ⁱ⁾.
 */
function dselect(g: OnnxGraph, gate: DSelectKGate, x: string, path: string): GateValue {
  const { k, bits: m, numExperts: n, gamma } = gate;
  let z: string;
  let alpha: string;
  if (gate.perExample) {
    const maps = new Map(gate.namedChildren());
    z = g.reshape(linear(g, maps.get('zMap') as Linear, x, `${path}.zMap`), [-1, k, m]);
    alpha = linear(g, maps.get('alphaMap') as Linear, x, `${path}.alphaMap`);
  } else {
    const params = new Map(gate.namedParameters());
    z = g.floats(`${path}.z`, values(params.get('z')!), [k, m]);
    alpha = g.floats(`${path}.alpha`, values(params.get('alpha')!), [k]);
  }
  // S(t) = (c3·t·t·t + c1·t) + 0.5 inside (−γ/2, γ/2), the evaluation order of the cpu kernel.
  const t3 = g.node('Mul', [g.node('Mul', [g.node('Mul', [g.constant([-2 / (gamma * gamma * gamma)]), z]), z]), z]);
  const cubic = g.node('Add', [g.node('Add', [t3, g.node('Mul', [g.constant([3 / (2 * gamma)]), z])]), g.constant([0.5])], {}, `${path}.cubic`);
  const upper = g.node('Where', [g.node('GreaterOrEqual', [z, g.constant([gamma / 2])]), g.constant([1]), cubic]);
  const s = g.node('Where', [g.node('LessOrEqual', [z, g.constant([-gamma / 2])]), g.constant([0]), upper], {}, `${path}.smooth_step`);
  // Factors [..., k, n, m]: bit j of expert e (most significant first) picks S_j or 1 − S_j.
  const bitTable = Array.from({ length: n * m }, (_, i) => ((Math.floor(i / m) >> (m - 1 - (i % m))) & 1) === 1);
  const sExpanded = g.unsqueeze(s, [-2]);
  const factors = g.node('Where', [g.bools(`${path}.bits`, bitTable, [n, m]), sExpanded, g.node('Sub', [g.constant([1]), sExpanded])], {}, `${path}.factors`);
  const selectors = g.reduce('ReduceProd', factors, [-1], false); // [..., k, n]
  const pi = g.unsqueeze(g.node('Softmax', [alpha], { axis: { int: -1 } }, `${path}.selector_weights`), [-1]); // [..., k, 1]
  const q = g.reduce('ReduceSum', g.node('Mul', [pi, selectors]), [-2], false);
  return { weights: g.node('Identity', [q], {}, `${path}.weights`), isStatic: !gate.perExample };
}

/**
 * y = Σ_e q_e · f_e: the expert outputs stacked [N, n, d] and multiplied by q as [N, n, 1] (or a static
 * q as [1, n, 1]), summed over experts.
 */
export function mixture(g: OnnxGraph, expertOutputs: readonly string[], gate: GateValue, numExperts: number, path: string): string {
  const stacked = g.node('Concat', expertOutputs.map((f) => g.unsqueeze(f, [1])), { axis: { int: 1 } }, `${path}.experts_stacked`);
  const q = gate.isStatic ? g.reshape(gate.weights, [1, numExperts, 1]) : g.unsqueeze(gate.weights, [2]);
  return g.reduce('ReduceSum', g.node('Mul', [stacked, q]), [1], false);
}

/** Static gate weights [n] repeated for every row of x, so every gate output is [N, n]. */
export function expandRows(g: OnnxGraph, weights: string, x: string, numExperts: number, name: string): string {
  const rows = g.node('Slice', [g.node('Shape', [x]), g.int64s([0]), g.int64s([1])]);
  const shape = g.node('Concat', [rows, g.int64s([numExperts])], { axis: { int: 0 } });
  return g.node('Expand', [g.reshape(weights, [1, numExperts]), shape], {}, name);
}
