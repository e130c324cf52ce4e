// The multi-task MoE training workload of issue 6, written once for our engine and once for
// TensorFlow.js, with the TF.js variables initialised from our model's initial weights so one step can
// be checked for agreement before anything is timed.
//
// Model: batch 256, input 64, 8 experts each 64→128→64 with ReLU (on both layers, as buildMMoE
// builds them), 2 tasks each with its own per-example softmax gate softmax(W x + b) and a 64→1
// linear tower, loss Σ_t MSE_t, Adam (lr 1e-3, β = (0.9, 0.999), eps 1e-8).
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { add, Adam, buildMMoE, mseLoss, noGrad, randn, Rng, tidy } from '../dist/index.js';

export const WORKLOAD = Object.freeze({ batch: 256, inputDim: 64, numExperts: 8, expertHidden: 128, expertOutputDim: 64, numTasks: 2 });
export const ADAM = Object.freeze({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

/** Our MMoE for the workload; `gate` is a buildMMoE gate spec (softmax per example by default). */
export function buildOurModel(gate = { type: 'softmax', perExample: true }, seed = 1) {
  const w = WORKLOAD;
  return buildMMoE({
    inputDim: w.inputDim,
    numTasks: w.numTasks,
    numExperts: w.numExperts,
    expertHidden: [w.expertHidden],
    expertOutputDim: w.expertOutputDim,
    gate,
    seed,
  });
}

/** A fixed batch: x [256, 64] and one regression target [256, 1] per task. */
export function makeBatch(seed = 2) {
  const rng = new Rng(seed);
  const x = randn([WORKLOAD.batch, WORKLOAD.inputDim], { rng });
  const targets = Array.from({ length: WORKLOAD.numTasks }, () => randn([WORKLOAD.batch, 1], { rng }));
  return { x, targets };
}

/** One training step of our model as `fit` runs it (zeroGrad, forward, Σ losses + regulariser, backward, Adam); returns the loss. */
export function ourTrainer(model, batch) {
  const optimizer = new Adam(model, { lr: ADAM.lr, betas: [ADAM.beta1, ADAM.beta2], eps: ADAM.eps });
  const lossOf = () => {
    const { outputs, regularization } = model.forward(batch.x);
    let loss = outputs.map((o, t) => mseLoss(o, batch.targets[t])).reduce((a, b) => add(a, b));
    if (regularization) loss = add(loss, regularization);
    return loss;
  };
  return {
    optimizer,
    /** Forward + backward only (gradients left in .grad), for the agreement check. */
    gradients() {
      return tidy(() => {
        optimizer.zeroGrad();
        const loss = lossOf();
        loss.backward();
        return loss.item();
      });
    },
    /** The loss at the current weights (no gradients, no update). */
    loss() {
      return tidy(() => noGrad(() => lossOf().item()));
    },
    step() {
      return tidy(() => {
        optimizer.zeroGrad();
        const loss = lossOf();
        loss.backward();
        optimizer.step();
        return loss.item();
      });
    },
  };
}

/** The named parameters of our softmax-gated model that the TF.js model mirrors, in TF's [in, out] layout. */
function ourParameterMap(model) {
  const p = new Map(model.namedParameters());
  const get = (name) => {
    const t = p.get(name);
    if (!t) throw new Error(`moe-workload: our model has no parameter '${name}' (has ${[...p.keys()].join(', ')})`);
    return t;
  };
  const entries = [];
  const w = WORKLOAD;
  for (let e = 0; e < w.numExperts; e++) {
    entries.push([`expert${e}.w1`, get(`experts.${e}.layers.0.weight`), true]);
    entries.push([`expert${e}.b1`, get(`experts.${e}.layers.0.bias`), false]);
    entries.push([`expert${e}.w2`, get(`experts.${e}.layers.1.weight`), true]);
    entries.push([`expert${e}.b2`, get(`experts.${e}.layers.1.bias`), false]);
  }
  for (let t = 0; t < w.numTasks; t++) {
    entries.push([`gate${t}.w`, get(`gates.${t}.logits.weight`), true]);
    entries.push([`gate${t}.b`, get(`gates.${t}.logits.bias`), false]);
    entries.push([`tower${t}.w`, get(`towers.${t}.layers.0.weight`), true]);
    entries.push([`tower${t}.b`, get(`towers.${t}.layers.0.bias`), false]);
  }
  return entries;
}

/** Row-major transpose of a [rows, cols] array. */
function transpose2d(data, rows, cols) {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

let tfModule = null;

/** TensorFlow.js core with the cpu and wasm backends registered (wasm binaries from node_modules). */
export async function loadTf() {
  if (tfModule) return tfModule;
  const require = createRequire(import.meta.url);
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const dir = require.resolve('@tensorflow/tfjs-backend-wasm/package.json').replace(/package\.json$/, 'dist/');
  wasm.setWasmPaths(dir);
  // Gradients: tfjs-core's bundles carry none (the union package @tensorflow/tfjs registers them).
  // Load its ES module registrations; they register into the same global registry and engine (TF.js
  // keeps both on globalThis), so variableGrads/minimize of this instance find them.
  register('./tfjs-resolve-hook.js', import.meta.url);
  const gradients = require.resolve('@tensorflow/tfjs-core/package.json').replace(/package\.json$/, 'dist/register_all_gradients.js');
  await import(pathToFileURL(gradients).href);
  tfModule = tf;
  return tf;
}

/** Activates a TF.js backend ('cpu' or 'wasm') and says what runs. */
export async function useTfBackend(tf, name) {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TensorFlow.js backend '${name}' failed to initialise`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`TensorFlow.js runs '${tf.getBackend()}', not '${name}'`);
  let detail = name === 'cpu' ? 'TF.js cpu backend (plain JS kernels), 1 thread' : 'TF.js wasm backend';
  if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    detail += `${simd ? ' (SIMD)' : ''}, ${threads ? 'multi-threaded' : '1 thread'}`;
  }
  return detail;
}

/**
 * The same model in TensorFlow.js (tfjs-core ops, tf.train.adam, minimize), initialised from our
 * model's parameters. Weights are held in TF's usual [in, out] layout, so the forward matmuls are
 * not transposed (the layout TF.js is fastest with). `experts: 'loop'` runs the experts one by one
 * like ours; `experts: 'batched'` runs all 8 in two batched matmuls (the faster way to write it in TF).
 */
export function buildTfModel(tf, ourModel, batch, { experts = 'loop' } = {}) {
  const w = WORKLOAD;
  const vars = {};
  for (const [name, t, isMatrix] of ourParameterMap(ourModel)) {
    const data = t.toArray();
    const value = isMatrix ? transpose2d(data, t.shape[0], t.shape[1]) : Float32Array.from(data);
    const shape = isMatrix ? [t.shape[1], t.shape[0]] : [...t.shape];
    vars[name] = tf.variable(tf.tensor(value, shape, 'float32'), true, `moe/${name}`);
  }
  const E = w.numExperts;
  // Batched layout: [E, in, out] kernels and [E, 1, out] biases, built from the same variables.
  const stacked = experts === 'batched';
  const x = tf.tensor(batch.x.toArray(), batch.x.shape, 'float32');
  const ys = batch.targets.map((t) => tf.tensor(t.toArray(), t.shape, 'float32'));
  const varList = Object.values(vars);
  const optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);

  const expertOutputs = () => {
    if (!stacked) {
      return Array.from({ length: E }, (_, e) => {
        const h = tf.relu(tf.add(tf.matMul(x, vars[`expert${e}.w1`]), vars[`expert${e}.b1`]));
        return tf.relu(tf.add(tf.matMul(h, vars[`expert${e}.w2`]), vars[`expert${e}.b2`]));
      });
    }
    const w1 = tf.stack(Array.from({ length: E }, (_, e) => vars[`expert${e}.w1`])); // [E, 64, 128]
    const b1 = tf.reshape(tf.stack(Array.from({ length: E }, (_, e) => vars[`expert${e}.b1`])), [E, 1, w.expertHidden]);
    const w2 = tf.stack(Array.from({ length: E }, (_, e) => vars[`expert${e}.w2`])); // [E, 128, 64]
    const b2 = tf.reshape(tf.stack(Array.from({ length: E }, (_, e) => vars[`expert${e}.b2`])), [E, 1, w.expertOutputDim]);
    const h = tf.relu(tf.add(tf.matMul(tf.tile(tf.expandDims(x, 0), [E, 1, 1]), w1), b1)); // [E, B, 128]
    return tf.relu(tf.add(tf.matMul(h, w2), b2)); // [E, B, 64]
  };

  const taskOutputs = () => {
    const f = expertOutputs();
    const fStack = stacked ? f : tf.stack(f); // [E, B, d]
    return Array.from({ length: w.numTasks }, (_, t) => {
      const g = tf.softmax(tf.add(tf.matMul(x, vars[`gate${t}.w`]), vars[`gate${t}.b`])); // [B, E]
      const gE = tf.expandDims(tf.transpose(g), 2); // [E, B, 1]
      const mixed = tf.sum(tf.mul(gE, fStack), 0); // [B, d]
      return tf.add(tf.matMul(mixed, vars[`tower${t}.w`]), vars[`tower${t}.b`]);
    });
  };
  const lossFn = () =>
    taskOutputs()
      .map((out, t) => tf.losses.meanSquaredError(ys[t], out))
      .reduce((a, b) => tf.add(a, b));

  return {
    vars,
    optimizer,
    /** Loss and gradients by name (no update). */
    gradients() {
      const { value, grads } = tf.variableGrads(lossFn, varList);
      const out = {};
      for (const [name, v] of Object.entries(vars)) out[name] = grads[v.name].dataSync().slice();
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return { loss, grads: out };
    },
    /** Inference: the task outputs as arrays (no gradients recorded). */
    predict() {
      return tf.tidy(() => taskOutputs()).map((o) => {
        const data = o.dataSync().slice();
        o.dispose();
        return data;
      });
    },
    step() {
      const cost = optimizer.minimize(lossFn, true, varList);
      const loss = cost.dataSync()[0];
      cost.dispose();
      return loss;
    },
    dispose() {
      optimizer.dispose();
      tf.dispose([x, ...ys, ...varList]);
    },
  };
}

/** Our parameter values (or gradients) in the TF layout, keyed like the TF variables. */
export function ourValuesInTfLayout(model, which = 'value') {
  const out = {};
  for (const [name, t, isMatrix] of ourParameterMap(model)) {
    const src = which === 'grad' ? t.grad : t;
    if (!src) throw new Error(`moe-workload: parameter ${name} has no ${which}`);
    const data = src.toArray();
    out[name] = isMatrix ? transpose2d(data, t.shape[0], t.shape[1]) : Float32Array.from(data);
  }
  return out;
}

/** Largest |a − b| relative to the largest |b| of each named array, and where it is worst. */
export function compareNamed(ours, theirs) {
  let worst = { name: '', rel: 0, abs: 0 };
  for (const [name, b] of Object.entries(theirs)) {
    const a = ours[name];
    if (!a || a.length !== b.length) throw new Error(`compare: ${name} has ${a?.length} vs ${b.length} elements`);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < b.length; i++) {
      scale = Math.max(scale, Math.abs(b[i]));
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
    }
    const rel = diff / Math.max(scale, 1e-30);
    if (rel > worst.rel) worst = { name, rel, abs: diff };
  }
  return worst;
}
