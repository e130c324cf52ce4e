// Inference cost of a DSelect-k MMoE against the dense softmax MMoE (issue 3 / issue 6): the
// inference suite of moe-train-step.js on its own (same model: batch 256, input 64, 8 experts
// 64→128→64 ReLU, 2 tasks, towers 64→1; DSelect-k gates (k = 2) set binary, as after training, so
// only the selected experts run; TF.js cpu/wasm rows for reference). Every row is checked first:
// sparse and dense evaluation of the DSelect-k model agree, TF.js gives our softmax outputs.
//
//   npm run build && node bench/moe-sparse-inference.js [--max-time s] [--out file]
import { runMoeBenchmarks } from './moe-train-step.js';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
await runMoeBenchmarks({
  suites: ['inference'],
  maxTime: option('max-time') !== undefined ? Number(option('max-time')) : undefined,
  // Only the full run writes bench/results-moe.json; pass --out to keep these rows.
  out: option('out') ?? null,
});
