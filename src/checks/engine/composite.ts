import { randn, tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradcheckCase } from '../../autograd/gradcheck.js';
import { add, div, mul, neg, pow, relu, sigmoid, softplus, tanh, where } from '../../autograd/ops/elementwise.js';
import { matmul } from '../../autograd/ops/matmul.js';
import { logsumexp, mean, sum } from '../../autograd/ops/reduce.js';
import { logSoftmax, softmax } from '../../autograd/ops/softmax.js';
import { mask, normal, sampled } from '../../autograd/gradcheck-inputs.js';

const LABELS = [0, 2, 1, 2];
const CLASSES = 3;

/** Mean softmax cross-entropy against integer labels: −mean(Σ_c onehot·logSoftmax(logits)). */
function crossEntropy(logits: Tensor, labels: readonly number[]): Tensor {
  const onehot = tensor(
    labels.map((l) => Array.from({ length: CLASSES }, (_, c) => (c === l ? 1 : 0))),
    { dtype: 'float64' },
  );
  return neg(mean(sum(mul(logSoftmax(logits, -1), onehot), -1)));
}

function mlpLoss(activation: (x: Tensor) => Tensor) {
  return (x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor => {
    const hidden = activation(add(matmul(x, w1), b1));
    return crossEntropy(add(matmul(hidden, w2), b2), LABELS);
  };
}

/**
 * x [4,3], W1 [3,5], b1 [5], W2 [5,3], b2 [3]. With `clearOfZero`, each b1_j is drawn until every
 * hidden pre-activation x·W1 + b1 is at least 0.05 from 0, so ReLU is checked away from its kink.
 */
function mlpInputs(seed: number, clearOfZero: boolean): () => Tensor[] {
  return () => {
    const rng = new Rng(seed);
    const opts = { dtype: 'float64' as const, rng };
    const x = randn([4, 3], opts);
    const w1 = randn([3, 5], opts);
    const xs = x.toArray();
    const ws = w1.toArray();
    const b1 = new Float64Array(5);
    for (let j = 0; j < 5; j++) {
      for (let attempt = 0; ; attempt++) {
        if (attempt === 1000) throw new Error(`mlpInputs: no bias keeps column ${j} away from the ReLU kink (seed ${seed})`);
        const b = 0.5 * rng.normal();
        let closest = Infinity;
        for (let i = 0; i < 4; i++) {
          let z = b;
          for (let k = 0; k < 3; k++) z += xs[i * 3 + k]! * ws[k * 5 + j]!;
          closest = Math.min(closest, Math.abs(z));
        }
        b1[j] = b;
        if (!clearOfZero || closest >= 0.05) break;
      }
    }
    return [x, w1, tensor(b1), randn([5, 3], opts), randn([3], { ...opts, std: 0.1 })];
  };
}

/** softplus, pow (tensor exponent), sigmoid, div, where and logsumexp in one graph. */
function smoothChain(a: Tensor, b: Tensor, c: Tensor, m: Tensor): Tensor {
  const p = pow(softplus(a), add(sigmoid(c), 0.5));
  const q = div(sigmoid(b), add(mul(c, c), 1));
  return logsumexp(where(m, p, q), -1);
}

/** One attention head: softmax(q·kᵀ / 2)·v through tanh. */
function attention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  return tanh(matmul(softmax(div(matmul(q, k, { transB: true }), 2), -1), v));
}

export const compositeGradcheckCases: readonly GradcheckCase[] = [
  { name: 'MLP 3→5→3 (tanh) + softmax cross-entropy', fn: mlpLoss(tanh), inputs: mlpInputs(501, false) },
  { name: 'MLP 3→5→3 (relu, away from 0) + softmax cross-entropy', fn: mlpLoss(relu), inputs: mlpInputs(502, true) },
  {
    name: 'chain softplus→pow, sigmoid/div, where, logsumexp',
    fn: smoothChain,
    inputs: sampled(503, normal([2, 4]), normal([2, 4]), normal([4]), mask([2, 4])),
    opts: { wrt: [0, 1, 2] },
  },
  {
    name: 'attention head softmax(q·kᵀ/2)·v, tanh',
    fn: attention,
    inputs: sampled(504, normal([3, 4]), normal([5, 4]), normal([5, 2])),
  },
];
