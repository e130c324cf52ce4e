import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/node/atomic-write.js';
import { CheckpointError, checkpointPath, loadCheckpoint, readCheckpoint, saveCheckpoint } from '../src/node/checkpoint.js';
import { Adam, MLP, mean, mul, Rng, tensor } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'dselect-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function trainedModel(): { model: MLP; opt: Adam } {
  const model = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(1) });
  const opt = new Adam(model, { lr: 0.01 });
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    mean(mul(model.forward(tensor([[1, 2, 3], [0.5, -1, 2]])), 2)).backward();
    opt.step();
  }
  return { model, opt };
}

describe('checkpoint file', () => {
  it('round-trips meta, parameters and optimiser state exactly', () => {
    const dir = join(root, 'roundtrip');
    const { model, opt } = trainedModel();
    saveCheckpoint(dir, { model, optimizer: opt, meta: { config: { gate: 'dselect-k', k: 2 }, epoch: 7, history: [1, 2] } });
    const loaded = readCheckpoint(dir);
    expect(loaded.meta).toEqual({ config: { gate: 'dselect-k', k: 2 }, epoch: 7, history: [1, 2] });
    for (const [name, t] of Object.entries(model.stateDict())) expect(Array.from(loaded.model[name]!.toArray())).toEqual(Array.from(t.toArray()));
    const state = opt.stateDict();
    const saved = loaded.optimizer!;
    expect(saved.steps).toEqual(state.steps);
    expect(saved.hyperparameters).toEqual(state.hyperparameters);
    expect(Object.keys(saved.slots).sort()).toEqual(Object.keys(state.slots).sort());
    for (const [name, t] of Object.entries(state.slots)) expect(Array.from(saved.slots[name]!.toArray())).toEqual(Array.from(t.toArray()));
    // and a fresh optimiser accepts it
    const fresh = new Adam(new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(2) }), { lr: 0.5 });
    fresh.loadStateDict(saved);
    expect(fresh.lr).toBe(0.01);
  });

  it('saves a model alone (no optimiser) and names a file or a folder', () => {
    const { model } = trainedModel();
    const file = saveCheckpoint(join(root, 'named', 'run.dsk'), { model });
    expect(file).toBe(join(root, 'named', 'run.dsk'));
    const loaded = readCheckpoint(file);
    expect(loaded.optimizer).toBeNull();
    expect(loaded.meta).toBeNull();
    const other = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(5) });
    expect(loadCheckpoint(file, other, new Adam(other, { lr: 0.3 }))).toEqual({ meta: null, hasOptimizer: false });
    other.parameters().forEach((p, i) => expect(Array.from(p.toArray())).toEqual(Array.from(model.parameters()[i]!.toArray())));
  });

  it('turns a flipped bit anywhere in the file into a CheckpointError naming the file', () => {
    const dir = join(root, 'flips');
    const { model, opt } = trainedModel();
    const path = saveCheckpoint(dir, { model, optimizer: opt, meta: { epoch: 3, gamma: 1, lr: 0.01 } });
    const good = readFileSync(path);
    // Every byte of a small file: the magic, the header (epoch, gamma, optimiser lr/beta2 …), the data, the checksum itself.
    for (let at = 0; at < good.length; at++) {
      const bad = Buffer.from(good);
      bad[at] ^= 1 << at % 8;
      writeFileSync(path, bad);
      expect(() => readCheckpoint(dir), `byte ${at} of ${good.length}`).toThrow(CheckpointError);
    }
    writeFileSync(path, good);
    expect(readCheckpoint(dir).meta).toEqual({ epoch: 3, gamma: 1, lr: 0.01 });
  });

  it('names truncation, foreign files and a missing file', () => {
    const dir = join(root, 'corrupt');
    const { model, opt } = trainedModel();
    const path = saveCheckpoint(dir, { model, optimizer: opt });
    const good = readFileSync(path);
    writeFileSync(path, good.subarray(0, good.length - 10));
    expect(() => readCheckpoint(dir)).toThrow(/corrupt checkpoint .*checkpoint\.dsk: checksum mismatch .*cut short/);
    writeFileSync(path, 'hello, not a checkpoint');
    expect(() => readCheckpoint(dir)).toThrow(/bad magic bytes/);
    expect(() => readCheckpoint(join(root, 'nowhere'))).toThrow(/no checkpoint at .*nowhere\/checkpoint\.dsk/);
  });

  it('checks the whole checkpoint against model and optimiser before changing either', () => {
    const dir = join(root, 'misfit');
    const { model, opt } = trainedModel();
    saveCheckpoint(dir, { model, optimizer: opt });
    // Same model shape, but an optimiser over a different parameter list: nothing may change.
    const target = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(9) });
    const before = target.parameters().map((p) => Array.from(p.toArray()));
    const partial = new Adam(target.parameters().slice(1), { lr: 0.2 });
    expect(() => loadCheckpoint(dir, target, partial)).toThrow(/parameter step counts/);
    expect(target.parameters().map((p) => Array.from(p.toArray()))).toEqual(before);
    expect(partial.lr).toBe(0.2);
    // A model that does not fit is named, and the optimiser is left alone.
    const wrong = new MLP({ inputDim: 3, hidden: [5], outputDim: 2, rng: new Rng(9) });
    const wrongOpt = new Adam(wrong, { lr: 0.3 });
    expect(() => loadCheckpoint(dir, wrong, wrongOpt)).toThrow(/'layers\.0\.weight' has shape \[4,3\] in the state dict but \[5,3\] in the model/);
    expect(wrongOpt.lr).toBe(0.3);
  });
});

describe('atomic writes', () => {
  it('leave the previous file intact and no temporary behind when writing fails midway', () => {
    const dir = join(root, 'atomic');
    const { model, opt } = trainedModel();
    saveCheckpoint(dir, { model, optimizer: opt, meta: { v: 1 } });
    const before = readFileSync(checkpointPath(dir));
    const fail = (): never => {
      throw new Error('disk full (injected)');
    };
    expect(() =>
      saveCheckpoint(dir, { model, optimizer: opt, meta: { v: 2 } }, { afterChunk: (i) => (i === 1 ? fail() : undefined) }),
    ).toThrow(/disk full/);
    expect(readFileSync(checkpointPath(dir)).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['checkpoint.dsk']);
    expect(readCheckpoint(dir).meta).toEqual({ v: 1 });
  });

  it('sweeps temporaries a crashed writer left behind, but never those of a live writer', () => {
    const dir = join(root, 'sweep');
    const target = join(dir, 'file.bin');
    mkdirSync(dir);
    const crashed = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dir, `.file.bin.${crashed}-abc.tmp`), 'partial');
    const live = `.file.bin.${process.pid}-def.tmp`;
    writeFileSync(join(dir, live), 'being written by another run');
    writeFileAtomic(target, [new Uint8Array([1, 2, 3])]);
    expect(readdirSync(dir).sort()).toEqual([live, 'file.bin']);
    expect(Array.from(readFileSync(target))).toEqual([1, 2, 3]);
  });
});
