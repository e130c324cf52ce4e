import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadTrainedRun } from '../experiments/predict.js';
import { UserError } from '../experiments/user-error.js';
import { saveSafetensors } from '../node/safetensors-file.js';
import { buildOnnx, ONNX_OPSETS } from '../onnx/export.js';
import { integerArg } from './options.js';

/** `dselect-k export --onnx runs/a model.onnx` (or `--safetensors runs/a weights.safetensors`). */
export function addExportCommand(program: Command, print: (line: string) => void, version: string): Command {
  return program
    .command('export')
    .description("write a trained run's model for other engines: ONNX (onnxruntime in servers, browsers, phones) or safetensors weights (PyTorch, JAX, Hugging Face)")
    .argument('<file>', 'the file to write')
    .option('--onnx <run>', 'export the run as an ONNX model (inputs: raw features; outputs: each task in its units — regression unscaled, classification logits — and each gate\'s weights)')
    .option('--safetensors <run>', "export the run's weights as safetensors (parameter names as in its state dict)")
    .option('--opset <n>', `ONNX operator set (${ONNX_OPSETS.min}–${ONNX_OPSETS.max})`, integerArg(ONNX_OPSETS.min, ONNX_OPSETS.max), ONNX_OPSETS.default)
    .action(async (file: string, opts: { onnx?: string; safetensors?: string; opset: number }) => {
      if ((opts.onnx === undefined) === (opts.safetensors === undefined)) throw new UserError('export: give exactly one of --onnx <run> or --safetensors <run>');
      const out = resolve(file);
      mkdirSync(dirname(out), { recursive: true });
      if (opts.safetensors !== undefined) {
        const run = loadTrainedRun(resolve(opts.safetensors), '--safetensors');
        saveSafetensors(out, run.model, { tasks: JSON.stringify(run.info.tasks.map((t) => t.name)) });
        print(`safetensors: ${out} (${run.model.parameters().length} tensors, ${run.model.parameterCount()} parameters)`);
        return;
      }
      const run = loadTrainedRun(resolve(opts.onnx!), '--onnx');
      const { info } = run;
      let built;
      try {
        built = await buildOnnx(run.model, {
          opset: opts.opset,
          producerVersion: version,
          ...(info.inputScaling ? { inputScaling: info.inputScaling } : {}),
          ...(info.targetScaling ? { outputScaling: info.tasks.map((t, i) => (t.kind === 'regression' ? info.targetScaling![i]! : null)) } : {}),
          metadata: {
            tasks: JSON.stringify(info.tasks),
            ...(info.featureNames ? { features: JSON.stringify(info.featureNames) } : {}),
          },
        });
      } catch (e) {
        throw new UserError(`--onnx: ${(e as Error).message}`);
      }
      writeFileSync(out, built.bytes);
      print(`onnx: ${out} (opset ${opts.opset}; input x [batch, ${built.signature.input.features}]${info.featureNames ? ` = ${info.featureNames.slice(0, 6).join(', ')}${info.featureNames.length > 6 ? ', …' : ''}` : ''}; outputs ${built.signature.outputs.map((o) => o.name).join(', ')})`);
    });
}
