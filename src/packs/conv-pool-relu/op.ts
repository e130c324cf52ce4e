import { formatShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { recordOp } from '../../autograd/engine.js';
import { convPoolReluKernels, type ConvPoolGeometry } from './kernels.js';
import { assertSameDType, assertTensor, storageOf } from '../../autograd/ops/util.js';
import { concat, slice } from '../../autograd/ops/shape.js';

/** The op names recorded here (its OpPack.ops). */
export const CONV_POOL_OPS = ['conv2dPoolRelu'] as const;

export interface Conv2dPoolReluOptions {
  stride?: number;
  padding?: number;
  /** Max-pool window and stride (non-overlapping windows), default 2. */
  pool?: number;
  /**
   * Grouped convolution (default 1): channels and filters in `groups` equal blocks, filter block g
   * seeing channel block g only; weight [F, C/groups, kH, kW]. Several small convs over one input
   * (the CNN experts of a mixture) run as one op this way.
   */
  groups?: number;
}

/**
 * relu(maxPool2d(conv2d(x, weight), pool) + bias) as one op: x [N, C, H, W], weight [F, C, kH, kW],
 * bias [F] or null → [N, F, ⌊outH/pool⌋, ⌊outW/pool⌋]. The values and gradients are those of the
 * unfused ops (a per-filter constant does not move a window's maximum, and ReLU commutes with max),
 * but the conv output is never stored and its gradient, nonzero at one position per window, is never
 * materialised: the backward costs about a quarter of a dense conv backward.
 */
export function conv2dPoolRelu(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dPoolReluOptions = {}): Tensor {
  const op = 'conv2dPoolRelu';
  assertTensor(op, x);
  assertTensor(op, weight, 'weight');
  assertSameDType(op, x, weight);
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? 0;
  const pool = opts.pool ?? 2;
  const groups = opts.groups ?? 1;
  const shapes = `input ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}`;
  if (x.ndim !== 4 || weight.ndim !== 4) throw new Error(`${op}: expected input [N,C,H,W] and weight [F,C,kH,kW], got ${shapes}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [f, wc, kh, kw] = weight.shape as [number, number, number, number];
  for (const [name, v, min] of [['stride', stride, 1], ['padding', padding, 0], ['pool', pool, 1], ['groups', groups, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${op}: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  if (groups > 1 && (c % groups !== 0 || f % groups !== 0)) throw new Error(`${op}: ${groups} groups must divide the input's ${c} channels and the weight's ${f} filters: ${shapes}`);
  if (wc * groups !== c) throw new Error(`${op}: input has ${c} channels but weight expects ${wc * groups}${groups > 1 ? ` (${wc} per group × ${groups} groups)` : ''}: ${shapes}`);
  const outH = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const outW = Math.floor((w + 2 * padding - kw) / stride) + 1;
  if (kh > h + 2 * padding || kw > w + 2 * padding || outH < pool || outW < pool) {
    throw new Error(`${op}: a ${kh}×${kw} conv (stride ${stride}, padding ${padding}) then a ${pool}×${pool} pool does not fit the input: ${shapes}`);
  }
  if (bias !== null) {
    assertTensor(op, bias, 'bias');
    assertSameDType(op, x, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== f) throw new Error(`${op}: bias must have shape [${f}] (one per filter), got ${formatShape(bias.shape)}; ${shapes}`);
  }
  const geo: ConvPoolGeometry = {
    inputShape: [n, c, h, w],
    kernelH: kh,
    kernelW: kw,
    stride,
    padding,
    outH,
    outW,
    pool,
    pooledH: Math.floor(outH / pool),
    pooledW: Math.floor(outW / pool),
    groups,
  };
  const kernels = convPoolReluKernels.current();
  if (groups > 1 && !kernels.grouped) {
    // Kernels without groups (a GPU kernel): one call per group on that group's channels.
    const [cg, fg] = [c / groups, f / groups];
    const one = { stride, padding, pool };
    const parts = Array.from({ length: groups }, (_, g) =>
      conv2dPoolRelu(slice(x, [0, g * cg, 0, 0], [n, cg, h, w]), slice(weight, [g * fg, 0, 0, 0], [fg, wc, kh, kw]), bias && slice(bias, [g * fg], [fg]), one),
    );
    return concat(parts, 1);
  }
  const { values, codes } = kernels.forward(storageOf(x), storageOf(weight), bias && storageOf(bias), geo);
  const outShape = [n, f, geo.pooledH, geo.pooledW];
  // Tensors (not bare storages) so that tidy/dispose release them with the rest of the graph.
  const where = new Tensor(codes, outShape);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const out: Tensor = recordOp(op, values, outShape, inputs, (g) => {
    const grads = convPoolReluKernels.current().backward(storageOf(g), storageOf(out), storageOf(where), storageOf(x), storageOf(weight), geo, {
      x: x.requiresGrad,
      weight: weight.requiresGrad,
      bias: bias?.requiresGrad ?? false,
    });
    const wrap = (s: typeof grads.x, shape: readonly number[]): Tensor | null => (s ? new Tensor(s, [...shape]) : null);
    return [wrap(grads.x, x.shape), wrap(grads.weight, weight.shape), ...(bias ? [wrap(grads.bias, bias.shape)] : [])];
  });
  return out;
}
