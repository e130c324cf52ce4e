import { noGrad } from '../autograd/engine.js';
import { mean } from '../autograd/ops/reduce.js';
import { reshape } from '../autograd/ops/shape.js';
import { Conv2d, convPoolRelu, MaxPool2d } from '../nn/conv2d.js';
import { MLP } from '../nn/mlp.js';
import { Module, type Layer } from '../nn/module.js';
import { ModuleList } from '../nn/module-list.js';
import { assertPositiveInteger } from '../nn/validate.js';
import { fromTypedArray } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { getGlobalRng, Rng } from '../tensor/random.js';
import { formatShape } from '../tensor/shape.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { BalancedTopKGate, type BalanceMode, type ImportanceSource } from './balanced-gate.js';
import { mixExperts } from './expert-mixture.js';
import type { MultiTaskOutput } from './mmoe.js';

/** conv k×k → ReLU → max-pool (computed as in `convPoolRelu`): the unit a CNN MoE layer is made of. */
export class ConvBlock extends Module {
  readonly conv: Conv2d;
  readonly pool: MaxPool2d;

  constructor(inChannels: number, outChannels: number, opts: { kernelSize?: number; pool?: number; rng?: Rng; dtype?: DType } = {}) {
    super();
    this.conv = this.addModule('conv', new Conv2d(inChannels, outChannels, { kernelSize: opts.kernelSize ?? 5, rng: opts.rng, dtype: opts.dtype }));
    this.pool = this.addModule('pool', new MaxPool2d(opts.pool ?? 2));
  }

  /** [channels, height, width] of the output for an input of [height, width]. */
  outputShape(height: number, width: number): [number, number, number] {
    const [ch, cw] = this.conv.outputSize(height, width);
    if (ch < this.pool.kernel || cw < this.pool.kernel) {
      throw new Error(`ConvBlock: a ${height}×${width} input is too small for a ${this.conv.kernelH}×${this.conv.kernelW} conv followed by a ${this.pool.kernel}×${this.pool.kernel} pool`);
    }
    return [this.conv.outChannels, ...this.pool.outputSize(ch, cw)];
  }

  forward(x: Tensor): Tensor {
    return convPoolRelu(this.conv, this.pool, x);
  }
}

/** Presents an image-to-image expert as image-to-rows, as `mixExperts` weights rows [B, d] by [B, 1]. */
class FlatOutput extends Module {
  constructor(readonly inner: Layer) {
    super();
  }

  forward(x: Tensor): Tensor {
    const y = this.inner.forward(x);
    return reshape(y, [y.shape[0]!, y.size / Math.max(1, y.shape[0]!)]);
  }
}

/** What the router sees of a feature map: all of it flattened, or its per-channel means. */
export type GateInput = 'flatten' | 'avgpool';

export interface ConvMoELayerOptions {
  /** [channels, height, width] of the feature maps entering the layer. */
  inputShape: readonly [number, number, number];
  /** Conv-block experts, all producing the same output shape. */
  experts: readonly ConvBlock[];
  gate: BalancedTopKGate;
  gateInput?: GateInput;
}

export interface ConvMoELayerOutput {
  /** Σ_e w_e · expert_e(x), [B, C', H', W']. */
  output: Tensor;
  /** Router weights [B, n], exactly 0 outside each row's experts. */
  weights: Tensor;
  /** The soft balancing loss (training mode with the soft constraint), else null. */
  regularization: Tensor | null;
  /** Clean router logits [B, n]. */
  logits: Tensor;
  /** Experts of each row, [B · k] (−1 for a dropped slot). */
  assignment: Int32Array;
}

/**
 * A mixture-of-experts layer inside a CNN: a router over the incoming feature map picks k conv
 * experts per example (with soft and/or hard balancing, see BalancedTopKGate), only the chosen experts
 * run on their examples, and their feature maps are mixed by the router's weights.
 */
export class ConvMoELayer extends Module {
  readonly experts: ModuleList<ConvBlock>;
  readonly gate: BalancedTopKGate;
  readonly inputShape: readonly [number, number, number];
  readonly gateInput: GateInput;
  private readonly flatExperts: FlatOutput[];

  constructor(opts: ConvMoELayerOptions) {
    super();
    if (!Array.isArray(opts.experts) || opts.experts.length < 2) throw new Error(`ConvMoELayer: needs at least 2 experts, got ${Array.isArray(opts.experts) ? opts.experts.length : String(opts.experts)}`);
    if (opts.gate.numExperts !== opts.experts.length) throw new Error(`ConvMoELayer: the gate routes to ${opts.gate.numExperts} experts but ${opts.experts.length} are given`);
    const [c, h, w] = opts.inputShape;
    this.gateInput = opts.gateInput ?? 'flatten';
    const gateDim = this.gateInput === 'flatten' ? c * h * w : c;
    if (opts.gate.inputDim !== gateDim) {
      throw new Error(`ConvMoELayer: a '${this.gateInput}' router over ${formatShape(opts.inputShape)} feature maps needs inputDim ${gateDim}, the gate has ${opts.gate.inputDim}`);
    }
    opts.experts.forEach((e, i) => {
      if (e.conv.inChannels !== c) throw new Error(`ConvMoELayer: expert ${i} expects ${e.conv.inChannels} input channels but the feature maps ${formatShape(opts.inputShape)} have ${c}`);
    });
    const shapes = opts.experts.map((e) => formatShape(e.outputShape(h, w)));
    if (new Set(shapes).size > 1) throw new Error(`ConvMoELayer: experts must produce one output shape for ${formatShape(opts.inputShape)} inputs, got ${shapes.join(', ')}`);
    this.inputShape = [c, h, w];
    this.experts = this.addModule('experts', new ModuleList(opts.experts));
    this.gate = this.addModule('gate', opts.gate);
    this.flatExperts = opts.experts.map((e) => new FlatOutput(e));
  }

  forward(x: Tensor): ConvMoELayerOutput {
    const [c, h, w] = this.inputShape;
    if (x.ndim !== 4 || x.shape[1] !== c || x.shape[2] !== h || x.shape[3] !== w) {
      throw new Error(`ConvMoELayer: input ${formatShape(x.shape)} does not match the layer's feature maps [N, ${c}, ${h}, ${w}]`);
    }
    const batch = x.shape[0]!;
    const routerInput = this.gateInput === 'flatten' ? reshape(x, [batch, c * h * w]) : mean(x, [2, 3]);
    const routing = this.gate.route(routerInput);
    const [mixed] = mixExperts(x, this.flatExperts, [routing.weights], true);
    const output = reshape(mixed!, [batch, ...this.outputShape()]);
    return {
      output,
      weights: routing.weights,
      logits: routing.logits,
      regularization: routing.regularization,
      assignment: routing.assignment.experts,
    };
  }

  /** [C', H', W'] of the mixed output. */
  outputShape(): [number, number, number] {
    return this.experts.at(0).outputShape(this.inputShape[1], this.inputShape[2]);
  }
}

export interface ConvMoENetOptions {
  /** [channels, height, width] of the input images (default [1, 28, 28]). */
  inputShape?: readonly [number, number, number];
  numClasses: number;
  numExperts: number;
  /** Experts per example (default 1). */
  k?: number;
  /** Filters of the shared first conv block (default 10). */
  stemFilters?: number;
  /** Filters of each expert's conv block (default 20). */
  expertFilters?: number;
  kernelSize?: number;
  pool?: number;
  /** Hidden widths of the classifier head after the MoE layer (default [50]). */
  headHidden?: readonly number[];
  /** Balancing constraint of the MoE layer (default 'soft'). */
  balance?: BalanceMode;
  /**
   * Soft-constraint weight (default 0.1) and importance source (default 'probabilities'). Measured on
   * Fashion-MNIST with 4 experts, top-1, 3 epochs: Shazeer's 0.01 on the routed gates left 2 experts
   * unused; 0.1 on the full router probabilities kept all 4 in use, at inference too.
   */
  balanceWeight?: number;
  capacityFactor?: number;
  noisy?: boolean;
  renormalize?: boolean;
  importance?: ImportanceSource;
  gateInput?: GateInput;
  /**
   * Also return the router's clean logits as a second output (DAMEX trains them with cross-entropy
   * against each example's dataset expert). Then `numTasks` is 2.
   */
  routerOutput?: boolean;
  seed?: number;
  rng?: Rng;
  dtype?: DType;
}

/**
 * A small CNN with a MoE layer in the middle: shared conv block → ConvMoELayer of conv-block experts →
 * dense head → class logits. It is a multi-task model with one output (two with `routerOutput`), so
 * `fit` and `evaluate` train and score it like any other.
 */
export class ConvMoENet extends Module {
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly stem: ConvBlock;
  readonly moe: ConvMoELayer;
  readonly head: MLP;
  readonly routerOutput: boolean;

  constructor(opts: ConvMoENetOptions) {
    super();
    const owner = 'ConvMoENet';
    const inputShape = opts.inputShape ?? ([1, 28, 28] as const);
    inputShape.forEach((d, i) => assertPositiveInteger(owner, `inputShape[${i}]`, d));
    assertPositiveInteger(owner, 'numClasses', opts.numClasses);
    const rng = opts.rng ?? (opts.seed !== undefined ? new Rng(opts.seed) : getGlobalRng());
    const common = { kernelSize: opts.kernelSize ?? 5, pool: opts.pool ?? 2, rng, dtype: opts.dtype };
    this.inputShape = [...inputShape] as unknown as readonly [number, number, number];
    this.numClasses = opts.numClasses;
    this.routerOutput = opts.routerOutput ?? false;
    this.stem = this.addModule('stem', new ConvBlock(inputShape[0], opts.stemFilters ?? 10, common));
    const stemOut = this.stem.outputShape(inputShape[1], inputShape[2]);
    assertPositiveInteger(owner, 'numExperts', opts.numExperts);
    const experts = Array.from({ length: opts.numExperts }, () => new ConvBlock(stemOut[0], opts.expertFilters ?? 20, common));
    const gateInput = opts.gateInput ?? 'flatten';
    const gate = new BalancedTopKGate({
      numExperts: opts.numExperts,
      inputDim: gateInput === 'flatten' ? stemOut[0] * stemOut[1] * stemOut[2] : stemOut[0],
      k: opts.k ?? 1,
      ...(opts.balance !== undefined ? { balance: opts.balance } : {}),
      balanceWeight: opts.balanceWeight ?? 0.1,
      ...(opts.capacityFactor !== undefined ? { capacityFactor: opts.capacityFactor } : {}),
      ...(opts.noisy !== undefined ? { noisy: opts.noisy } : {}),
      ...(opts.renormalize !== undefined ? { renormalize: opts.renormalize } : {}),
      importance: opts.importance ?? 'probabilities',
      rng,
      dtype: opts.dtype,
    });
    this.moe = this.addModule('moe', new ConvMoELayer({ inputShape: stemOut, experts, gate, gateInput }));
    const [mc, mh, mw] = this.moe.outputShape();
    const features = mc * mh * mw;
    this.head = this.addModule('head', new MLP({ inputDim: features, hidden: opts.headHidden ?? [50], outputDim: opts.numClasses, rng, dtype: opts.dtype }));
  }

  get numTasks(): number {
    return this.routerOutput ? 2 : 1;
  }

  get gate(): BalancedTopKGate {
    return this.moe.gate;
  }

  /** Accepts images [N, C, H, W] or their flattened rows [N, C·H·W]. */
  private images(x: Tensor): Tensor {
    const [c, h, w] = this.inputShape;
    if (x.ndim === 4 && x.shape[1] === c && x.shape[2] === h && x.shape[3] === w) return x;
    if (x.ndim === 2 && x.shape[1] === c * h * w) return reshape(x, [x.shape[0]!, c, h, w]);
    throw new Error(`ConvMoENet: input ${formatShape(x.shape)} does not match the network's images [N, ${c}, ${h}, ${w}] (or rows [N, ${c * h * w}])`);
  }

  forward(x: Tensor): MultiTaskOutput & { assignment: Int32Array } {
    const hidden = this.stem.forward(this.images(x));
    const layer = this.moe.forward(hidden);
    const features = reshape(layer.output, [layer.output.shape[0]!, -1]);
    const logits = this.head.forward(features);
    return {
      outputs: this.routerOutput ? [logits, layer.logits] : [logits],
      regularization: layer.regularization,
      gateWeights: [layer.weights],
      assignment: layer.assignment,
    };
  }

  /** Inference routing of x: each row's k experts (eval mode, no noise, no capacity unless the gate caps in eval), in batches. */
  routeOf(x: Tensor, batchSize = 256): Int32Array {
    const wasTraining = this.training;
    this.eval();
    const rows = x.shape[0]!;
    const k = this.gate.k;
    const out = new Int32Array(rows * k);
    try {
      for (let start = 0; start < rows; start += batchSize) {
        const end = Math.min(rows, start + batchSize);
        tidy(() =>
          noGrad(() => {
            const hidden = this.stem.forward(this.images(sliceRows(x, start, end)));
            const [c, h, w] = this.moe.inputShape;
            const routerInput = this.moe.gateInput === 'flatten' ? reshape(hidden, [end - start, c * h * w]) : mean(hidden, [2, 3]);
            out.set(this.gate.route(routerInput).assignment.experts, start * k);
          }),
        );
      }
    } finally {
      this.train(wasTraining);
    }
    return out;
  }
}

/** Rows [start, end) of x as a fresh constant tensor. */
function sliceRows(x: Tensor, start: number, end: number): Tensor {
  const rowSize = x.size / x.shape[0]!;
  return fromTypedArray(x.storage.readSync().slice(start * rowSize, end * rowSize), [end - start, ...x.shape.slice(1)]);
}
