import { mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Adam, buildMMoE, fit, Linear, randn, Rng } from '../src/index.js';
import type { WeightsManifest } from '../src/advanced.js';
import { loadCheckpoint, loadWeights, readWeights, saveCheckpoint, saveWeights } from '../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-k-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (seed: number, dtype: 'float32' | 'float64' = 'float32') =>
  buildMMoE({ inputDim: 4, numTasks: 2, numExperts: 3, expertHidden: [5], expertOutputDim: 3, gate: { type: 'dselect-k', k: 2, perExample: true }, seed, dtype });

describe('saveWeights / loadWeights', () => {
  it('round-trips a whole MMoE through a manifest and a binary file', () => {
    const a = config(1);
    const b = config(2);
    const target = join(dir, 'model');
    const paths = saveWeights(target, a, { epoch: 3, note: 'test' });
    expect(paths).toEqual({ manifestPath: join(target, 'weights.json'), binaryPath: join(target, 'weights.bin') });
    expect(readdirSync(target).sort()).toEqual(['weights.bin', 'weights.json']); // no temporary files left

    const x = randn([3, 4], { rng: new Rng(3) });
    a.eval();
    b.eval();
    expect(Array.from(b.forward(x).outputs[0]!.toArray())).not.toEqual(Array.from(a.forward(x).outputs[0]!.toArray()));
    const { meta } = loadWeights(target, b);
    expect(meta).toEqual({ epoch: 3, note: 'test' });
    for (const t of [0, 1]) expect(Array.from(b.forward(x).outputs[t]!.toArray())).toEqual(Array.from(a.forward(x).outputs[t]!.toArray()));
  });

  it('writes names, shapes, dtypes and 8-byte aligned offsets in the manifest', () => {
    const layer = new Linear(3, 1, { dtype: 'float64' });
    const target = join(dir, 'linear.json');
    saveWeights(target, layer);
    const manifest = JSON.parse(readFileSync(target, 'utf8')) as WeightsManifest;
    expect(manifest.format).toBe('dselect-k-weights');
    expect(manifest.binary).toBe('linear.bin');
    expect(manifest.tensors).toEqual([
      { name: 'weight', shape: [1, 3], dtype: 'float64', byteOffset: 0, byteLength: 24 },
      { name: 'bias', shape: [1], dtype: 'float64', byteOffset: 24, byteLength: 8 },
    ]);
    const f32 = new Linear(3, 1);
    saveWeights(join(dir, 'f32.json'), f32);
    const m32 = JSON.parse(readFileSync(join(dir, 'f32.json'), 'utf8')) as WeightsManifest;
    expect(m32.tensors[1]!.byteOffset).toBe(16); // 12 bytes of weights, padded to 16
    const { tensors } = readWeights(target);
    expect(Array.from(tensors['weight']!.toArray())).toEqual(Array.from(layer.weight.toArray()));
    expect(tensors['weight']!.dtype).toBe('float64');
  });

  it('names the parameter and both shapes when the model does not match', () => {
    const target = join(dir, 'small');
    saveWeights(target, new Linear(3, 2));
    expect(() => loadWeights(target, new Linear(4, 2))).toThrow("parameter 'weight' has shape [2,3] in the state dict but [2,4] in the model");
    expect(() => loadWeights(target, new Linear(3, 2, { bias: false }))).toThrow("unexpected entry 'bias' [2]");
    const partial = join(dir, 'partial');
    saveWeights(partial, { weight: new Linear(3, 2).weight });
    expect(() => loadWeights(partial, new Linear(3, 2))).toThrow("missing parameter 'bias' [2]");
  });

  it('reports missing, truncated and corrupt files clearly', () => {
    expect(() => loadWeights(join(dir, 'nothing-here'), new Linear(3, 2))).toThrow(/no weights manifest at .*nothing-here\/weights\.json/);
    const target = join(dir, 'broken');
    const { binaryPath, manifestPath } = saveWeights(target, new Linear(3, 2));
    truncateSync(binaryPath, 10);
    expect(() => loadWeights(target, new Linear(3, 2))).toThrow(/binary file holds 10 bytes but the manifest declares 32/);
    unlinkSync(binaryPath);
    expect(() => loadWeights(target, new Linear(3, 2))).toThrow(/binary file .*weights\.bin named by .* is missing/);
    writeFileSync(manifestPath, '{ not json');
    expect(() => loadWeights(target, new Linear(3, 2))).toThrow(/is not valid JSON/);
    saveWeights(target, new Linear(3, 2));
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as WeightsManifest;
    m.tensors[0]!.shape = [2, 4];
    writeFileSync(manifestPath, JSON.stringify(m));
    expect(() => loadWeights(target, new Linear(3, 2))).toThrow("tensor 'weight' [2,4] float32 needs 32 bytes, manifest says 24");
    expect(existsSync(manifestPath)).toBe(true);
  });

  it('also stores optimiser slots (any state dict) for checkpoints', () => {
    const layer = new Linear(2, 2, { dtype: 'float64' });
    const opt = new Adam(layer);
    for (const p of layer.parameters()) p.grad = randn(p.shape, { dtype: 'float64', rng: new Rng(4) });
    opt.step();
    const state = opt.stateDict();
    const target = join(dir, 'optimizer');
    saveWeights(target, state.slots, { type: state.type, hyperparameters: state.hyperparameters, steps: state.steps });
    const saved = readWeights(target);
    const fresh = new Adam(layer);
    const meta = saved.meta as { type: string; hyperparameters: Record<string, number>; steps: number[] };
    fresh.loadStateDict({ type: meta.type, hyperparameters: meta.hyperparameters, steps: meta.steps, slots: saved.tensors });
    expect(Object.keys(fresh.stateDict().slots)).toEqual(['0.exp_avg', '0.exp_avg_sq', '1.exp_avg', '1.exp_avg_sq']);
    expect(Array.from(fresh.stateDict().slots['0.exp_avg']!.toArray())).toEqual(Array.from(state.slots['0.exp_avg']!.toArray()));
  });

  it('round-trips float64 models exactly', () => {
    const a = config(5, 'float64');
    const b = config(6, 'float64');
    saveWeights(join(dir, 'f64'), a);
    loadWeights(join(dir, 'f64'), b);
    a.parameters().forEach((p, i) => expect(Array.from(b.parameters()[i]!.toArray())).toEqual(Array.from(p.toArray())));
  });
});

describe('saveCheckpoint / loadCheckpoint', () => {
  it('restores model and optimiser so that training continues identically', () => {
    const data = { x: randn([64, 4], { rng: new Rng(7) }), y: randn([64, 2], { rng: new Rng(8) }) };
    const straight = config(9);
    fit(straight, data, { epochs: 3, lr: 0.01, seed: 1 });

    const first = config(9);
    const opt = new Adam(first, { lr: 0.01 });
    fit(first, data, { epochs: 2, optimizer: opt, seed: 1 });
    const target = join(dir, 'ckpt');
    saveCheckpoint(target, { model: first, optimizer: opt, meta: { epoch: 2, gate: 'dselect-k' } });
    saveCheckpoint(target, { model: first, optimizer: opt, meta: { epoch: 2, gate: 'dselect-k' } }); // overwrite in place
    expect(readdirSync(dir).filter((f) => f.startsWith('ckpt'))).toEqual(['ckpt']);
    expect(readdirSync(target)).toEqual(['checkpoint.dsk']);

    const resumed = config(10);
    const opt2 = new Adam(resumed, { lr: 0.5 });
    const { meta, hasOptimizer } = loadCheckpoint(target, resumed, opt2);
    expect(meta).toEqual({ epoch: 2, gate: 'dselect-k' });
    expect(hasOptimizer).toBe(true);
    expect(opt2.lr).toBe(0.01);
    fit(resumed, data, { epochs: 3, initialEpoch: 2, optimizer: opt2, seed: 1 });
    resumed.parameters().forEach((p, i) => expect(Array.from(p.toArray())).toEqual(Array.from(straight.parameters()[i]!.toArray())));
  });

  it('names what is wrong with a missing or foreign checkpoint', () => {
    expect(() => loadCheckpoint(join(dir, 'absent'), config(1))).toThrow(/no checkpoint at .*absent\/checkpoint\.dsk/);
    const target = join(dir, 'other');
    saveCheckpoint(target, { model: new Linear(2, 2) });
    expect(() => loadCheckpoint(target, config(1))).toThrow(/problem\(s\):[\s\S]*missing parameter 'experts.0.layers.0.weight'/);
    writeFileSync(join(target, 'checkpoint.dsk'), '{"format":"something-else"}');
    expect(() => loadCheckpoint(target, new Linear(2, 2))).toThrow(/corrupt checkpoint .*: not a dselect-k checkpoint \(bad magic bytes\)/);
  });
});
