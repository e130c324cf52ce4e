// Layer normalisation: the fused layer-norm pack against the same maths composed of generic ops
// (what LayerNorm was before the pack), forward + backward, side by side in one process.
// Run: npm run build && node bench/layer-norm.js
import { LayerNorm, Linear, randn, Rng, tidy } from '../dist/index.js';

const [rows, cols] = [256, 128];
const x = randn([rows, cols], { rng: new Rng(2) });
x.requiresGrad = true;
const norm = new LayerNorm(cols);
const [w, b] = norm.parameters();
const dense = new Linear(cols, cols, { rng: new Rng(1) });

function composite(t) {
  const centred = t.sub(t.mean(-1, true));
  return centred.mul(centred.square().mean(-1, true).add(1e-5).sqrt().reciprocal()).mul(w).add(b);
}

function time(label, step) {
  for (let i = 0; i < 20; i++) tidy(step);
  const started = performance.now();
  const runs = 200;
  for (let i = 0; i < runs; i++) tidy(step);
  const ms = (performance.now() - started) / runs;
  console.log(`${label.padEnd(44)} ${ms.toFixed(3)} ms`);
  return ms;
}

const clear = () => [x, w, b, ...dense.parameters()].forEach((t) => t.zeroGrad());
const fused = time(`LayerNorm pack, fwd+bwd [${rows},${cols}]`, () => (norm.forward(x).sum().backward(), clear()));
const ops = time(`generic ops, fwd+bwd [${rows},${cols}]`, () => (composite(x).sum().backward(), clear()));
time(`reference: Linear ${cols}→${cols}, fwd+bwd`, () => (dense.forward(x).sum().backward(), clear()));
console.log(`pack ${(ops / fused).toFixed(1)}× faster than the composite`);
