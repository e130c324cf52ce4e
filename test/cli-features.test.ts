import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MMoE, Rng } from '../src/index.js';
import { loadModel, readCheckpoint, readSafetensors } from '../src/node/index.js';

/**
 * The command line's user-data path and its plumbing, run as a subprocess: train on a CSV, predict a
 * CSV, export to ONNX (checked in onnxruntime against predict) and safetensors, quiet exit on a closed
 * pipe, one default output folder convention, metrics.json's loss definition.
 */
const repo = resolve(__dirname, '..');
const work = join(repo, '.tmp', `cli-features-${process.pid}`);
const main = join(work, 'dist', 'cli', 'main.js');

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'dselect-k-cli-features-test', version: '0.0.0-test', type: 'module' }));
  const tsc = spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(work, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], { encoding: 'utf8' });
  if (!existsSync(main)) throw new Error(`compiling the CLI failed:\n${tsc.stdout}\n${tsc.stderr}`);
  writeCsvs();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd: work, timeout: 110_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectUserError(r: Run, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).not.toBe(0);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dselect-k: error: /);
  expect(lines[0]).toMatch(pattern);
}

/** y1 = regression on a, b; y2 = a 0/1 label; features a, b, c (c is noise); a second file in another column order. */
function writeCsvs(): void {
  const rng = new Rng(7);
  const rows: string[] = ['a,b,c,y1,y2'];
  const fresh: string[] = ['y2,c,b,a,id'];
  for (let i = 0; i < 400; i++) {
    const [a, b, c] = [rng.normal() * 3 + 10, rng.normal(), rng.normal() * 0.1];
    const y1 = 2 * a - b + 0.1 * rng.normal();
    const y2 = a - 10 + b > 0 ? 1 : 0;
    rows.push([a, b, c, y1, y2].join(','));
    if (i < 25) fresh.push([y2, c, b, a, i].join(','));
  }
  writeFileSync(join(work, 'my.csv'), rows.join('\r\n') + '\r\n');
  writeFileSync(join(work, 'new.csv'), fresh.join('\n') + '\n');
}

const MODEL = ['--experts', '3', '--k', '2', '--expert-hidden', '8', '--expert-output', '4', '--tower-hidden', 'none', '--batch-size', '32', '--lr', '0.02'];

describe('dselect-k train --data my.csv', () => {
  it('trains on a CSV file, writes metrics.json with the loss the epoch lines show, and a model loadModel rebuilds', () => {
    const out = join(work, 'runs', 'csv');
    const r = cli(['train', '--data', 'my.csv', '--targets', 'y1,y2', '--task-types', 'mse,bce', ...MODEL, '--epochs', '4', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('my.csv: 400 rows, 3 features, targets y1 (regression), y2 (binary)');
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { lossDefinition: string; history: { loss: number; taskLosses: number[]; valLoss: number }[]; test: { metric: string[]; taskMetrics: number[] } };
    expect(metrics.lossDefinition).toMatch(/^mean over tasks of each task's mean loss/);
    for (const h of metrics.history) expect(h.loss).toBeCloseTo((h.taskLosses[0]! + h.taskLosses[1]!) / 2, 12);
    // Not on a terminal, each epoch prints a line: its loss is the one in metrics.json.
    const epochLines = [...r.stdout.matchAll(/^epoch (\d+)\/4 {2}loss (\d+\.\d{4})/gm)];
    expect(epochLines).toHaveLength(4);
    epochLines.forEach((m, i) => expect(m[2]).toBe(metrics.history[i]!.loss.toFixed(4)));
    expect(metrics.test.metric).toEqual(['mse', 'accuracy']);
    expect(metrics.test.taskMetrics[1]).toBeGreaterThan(0.75); // a learnable 0/1 label
    const { model } = loadModel(out, MMoE);
    expect(model.numTasks).toBe(2);
  });

  it('names the problem in one line: missing column, label that is not 0/1, flags without --data', () => {
    expectUserError(cli(['train', '--data', 'my.csv', '--targets', 'y3', '-q']), /--data: my\.csv has no target column 'y3' \(columns: a, b, c, y1, y2\)/);
    expectUserError(cli(['train', '--data', 'my.csv', '--targets', 'y1', '--task-types', 'bce', '-q']), /line 2, target 'y1' \(bce\) is .*a bce target must be 0 or 1/);
    expectUserError(cli(['train', '--targets', 'y1', '-q']), /--targets needs --data <file\.csv>/);
    expectUserError(cli(['train', '--data', 'my.csv', '-q']), /--data needs --targets/);
    expectUserError(cli(['train', '--data', 'nowhere.csv', '--targets', 'y1', '-q']), /--data: cannot read .*nowhere\.csv \(ENOENT\)/);
  });
});

describe('dselect-k predict and export', () => {
  const run = (): string => join(work, 'runs', 'csv');

  it('predicts a CSV (columns by name, in any order) to stdout, and the ONNX export gives the same numbers in onnxruntime', async () => {
    const r = cli(['predict', '--model', run(), '--data', 'new.csv']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('y1,y2');
    expect(lines).toHaveLength(26);
    const predicted = lines.slice(1).map((l) => l.split(',').map(Number));
    const fresh = readFileSync(join(work, 'new.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    // y1 ≈ 2a − b: the model learnt it in the target's own units (scaling undone).
    const errors = predicted.map((p, i) => Math.abs(p[0]! - (2 * fresh[i]![3]! - fresh[i]![2]!)));
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(2.5);
    for (const p of predicted) {
      expect(p[1]).toBeGreaterThanOrEqual(0);
      expect(p[1]).toBeLessThanOrEqual(1);
    }

    const onnxPath = join(work, 'model.onnx');
    const e = cli(['export', '--onnx', run(), onnxPath]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/onnx: .*model\.onnx \(opset 17; input x \[batch, 3\] = a, b, c; outputs output_0, gate_weights_0, output_1, gate_weights_1\)/);
    const session = await ort.InferenceSession.create(readFileSync(onnxPath));
    const x = Float32Array.from(fresh.flatMap((f) => [f[3]!, f[2]!, f[1]!])); // raw a, b, c
    const out = await session.run({ x: new ort.Tensor('float32', x, [25, 3]) });
    const y1 = out['output_0']!.data as Float32Array;
    const logit = out['output_1']!.data as Float32Array;
    predicted.forEach((p, i) => {
      // 1e-5 relative: y1 is in its own units (tens), the model's output times the target's std plus its mean.
      expect(Math.abs(y1[i]! - p[0]!), `row ${i}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(p[0]!)));
      expect(Math.abs(1 / (1 + Math.exp(-logit[i]!)) - p[1]!), `row ${i}`).toBeLessThanOrEqual(1e-5);
    });
  });

  it('writes predictions to --out, exports safetensors, and names a missing feature column', () => {
    const out = join(work, 'predictions.csv');
    expect(cli(['predict', '--model', run(), '--data', 'my.csv', '--out', out]).status).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(401);
    const st = join(work, 'weights.safetensors');
    expect(cli(['export', '--safetensors', run(), st]).status).toBe(0);
    expect(Object.keys(readSafetensors(st).tensors).sort()).toEqual(Object.keys(readCheckpoint(run()).model).sort());
    writeFileSync(join(work, 'partial.csv'), 'a,b\n1,2\n');
    expectUserError(cli(['predict', '--model', run(), '--data', 'partial.csv']), /partial\.csv lacks the feature column\(s\) the model was trained on: c/);
    expectUserError(cli(['export', run()]), /export: give exactly one of --onnx <run> or --safetensors <run>/);
    expectUserError(cli(['predict', '--model', join(work, 'nowhere'), '--data', 'new.csv']), /--model: no checkpoint at/);
  });
});

describe('command-line plumbing', () => {
  it('exits quietly (status 0, nothing on stderr) when the reader of its output goes away: dselect-k … | head -1', () => {
    for (const command of [`gradcheck --list`, `compare --tasks 2 --input-dim 4 --train-size 40 --val-size 10 --test-size 10 --experts 2 --k 1 --expert-hidden 4 --expert-output 2 --tower-hidden none --epochs 1 --seeds 1 --gates top-k-per-example,softmax-per-example --out runs/pipe -q`]) {
      const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${main}" ${command} | head -1`], { encoding: 'utf8', cwd: work, timeout: 110_000 });
      expect(r.status, `${command}: ${r.stderr}`).toBe(0);
      expect(r.stderr, command).toBe('');
      expect(r.stdout.split('\n')).toHaveLength(2);
    }
  });

  it('every command writes into runs/<command> by default', () => {
    for (const command of ['train', 'compare', 'balance', 'damex']) {
      const help = cli([command, '--help']).stdout.replace(/\s+/g, ' ');
      expect(help, command).toContain(`(default: "runs/${command}")`);
    }
  });
});
