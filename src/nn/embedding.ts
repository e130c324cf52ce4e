import { gather, reshape } from '../autograd/ops/shape.js';
import type { DType } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { randn } from '../tensor/creation.js';
import { Tensor } from '../tensor/tensor.js';
import { initContext, type Initializer } from './init.js';
import { Module } from './module.js';
import { assertPositiveInteger } from './validate.js';

export interface EmbeddingOptions {
  /** Initialiser of the table [numEmbeddings, embeddingDim] (default N(0, 1), PyTorch's). */
  weightInit?: Initializer;
  rng?: Rng;
  dtype?: DType;
}

/** Row indices: a tensor of whole numbers (any shape), an Int32Array or a plain array. */
export type EmbeddingIndices = Tensor | Int32Array | readonly number[];

const normalInit: Initializer = (shape, ctx) => randn(shape, { rng: ctx.rng, dtype: ctx.dtype });

/**
 * A lookup table: row i of the weight [numEmbeddings, embeddingDim] for every index i. Indices of
 * shape S give [...S, embeddingDim]. The gradient scatters back onto the rows that were looked up.
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    assertPositiveInteger('Embedding', 'numEmbeddings', numEmbeddings);
    assertPositiveInteger('Embedding', 'embeddingDim', embeddingDim);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    const ctx = initContext(numEmbeddings, embeddingDim, opts);
    this.addParameter('weight', (opts.weightInit ?? normalInit)([numEmbeddings, embeddingDim], ctx));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  forward(indices: EmbeddingIndices): Tensor {
    const shape = indices instanceof Tensor ? [...indices.shape] : [indices.length];
    const rows = gather(this.weight, this.checkIndices(indices instanceof Tensor ? indices.storage.readSync() : indices), 0);
    return shape.length === 1 ? rows : reshape(rows, [...shape, this.embeddingDim]);
  }

  private checkIndices(values: ArrayLike<number>): Int32Array {
    const flat = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= this.numEmbeddings) {
        throw new Error(`Embedding: index ${String(v)} at position ${i} is not a whole number in [0, numEmbeddings = ${this.numEmbeddings})`);
      }
      flat[i] = v;
    }
    return flat;
  }
}
