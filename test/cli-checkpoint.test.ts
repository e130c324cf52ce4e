import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/cli/atomic-write.js';
import { CheckpointError, checkpointPath, loadCheckpoint, saveCheckpoint } from '../src/cli/checkpoint.js';
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
  it('round-trips config, epoch, extra state, parameters and optimiser state exactly', () => {
    const dir = join(root, 'roundtrip');
    const { model, opt } = trainedModel();
    saveCheckpoint(dir, { config: { gate: 'dselect-k', k: 2 }, epoch: 7, model: model.stateDict(), optimizer: opt.stateDict(), extra: { history: [1, 2] } });
    const loaded = loadCheckpoint(dir);
    expect(loaded.config).toEqual({ gate: 'dselect-k', k: 2 });
    expect(loaded.epoch).toBe(7);
    expect(loaded.extra).toEqual({ history: [1, 2] });
    for (const [name, t] of Object.entries(model.stateDict())) expect(Array.from(loaded.model[name]!.toArray())).toEqual(Array.from(t.toArray()));
    const state = opt.stateDict();
    expect(loaded.optimizer.steps).toEqual(state.steps);
    expect(loaded.optimizer.hyperparameters).toEqual(state.hyperparameters);
    expect(Object.keys(loaded.optimizer.slots).sort()).toEqual(Object.keys(state.slots).sort());
    for (const [name, t] of Object.entries(state.slots)) expect(Array.from(loaded.optimizer.slots[name]!.toArray())).toEqual(Array.from(t.toArray()));
    // and a fresh optimiser accepts it
    const fresh = new Adam(new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(2) }), { lr: 0.5 });
    fresh.loadStateDict(loaded.optimizer);
    expect(fresh.lr).toBe(0.01);
  });

  it('detects corruption, truncation and foreign files with a CheckpointError naming the file', () => {
    const dir = join(root, 'corrupt');
    const { model, opt } = trainedModel();
    const path = saveCheckpoint(dir, { config: {}, epoch: 1, model: model.stateDict(), optimizer: opt.stateDict(), extra: null });
    const good = readFileSync(path);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] ^= 0x40;
    writeFileSync(path, flipped);
    expect(() => loadCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(dir)).toThrow(/corrupt checkpoint .*checkpoint\.dsk: data checksum mismatch/);
    writeFileSync(path, good.subarray(0, good.length - 10));
    expect(() => loadCheckpoint(dir)).toThrow(/truncated/);
    writeFileSync(path, 'hello, not a checkpoint');
    expect(() => loadCheckpoint(dir)).toThrow(/bad magic bytes/);
    expect(() => loadCheckpoint(join(root, 'nowhere'))).toThrow(/no checkpoint at .*nowhere\/checkpoint\.dsk/);
  });
});

describe('atomic writes', () => {
  it('leave the previous file intact and no temporary behind when writing fails midway', () => {
    const dir = join(root, 'atomic');
    const { model, opt } = trainedModel();
    saveCheckpoint(dir, { config: { v: 1 }, epoch: 1, model: model.stateDict(), optimizer: opt.stateDict(), extra: null });
    const before = readFileSync(checkpointPath(dir));
    const fail = (): never => {
      throw new Error('disk full (injected)');
    };
    expect(() =>
      saveCheckpoint(dir, { config: { v: 2 }, epoch: 2, model: model.stateDict(), optimizer: opt.stateDict(), extra: null }, { afterChunk: (i) => (i === 1 ? fail() : undefined) }),
    ).toThrow(/disk full/);
    expect(readFileSync(checkpointPath(dir)).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['checkpoint.dsk']);
    expect(loadCheckpoint(dir).config).toEqual({ v: 1 });
  });

  it('sweeps temporaries a crashed writer left behind', () => {
    const dir = join(root, 'sweep');
    const target = join(dir, 'file.bin');
    mkdirSync(dir);
    writeFileSync(join(dir, '.file.bin.123-abc.tmp'), 'partial');
    writeFileAtomic(target, [new Uint8Array([1, 2, 3])]);
    expect(readdirSync(dir)).toEqual(['file.bin']);
    expect(Array.from(readFileSync(target))).toEqual([1, 2, 3]);
  });
});
