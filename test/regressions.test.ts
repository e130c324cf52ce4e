import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Adam,
  arange,
  buildMMoE,
  cast,
  evaluate,
  fit,
  fromTypedArray,
  MLP,
  mean,
  mul,
  Rng,
  smoothStep,
  sum,
  tensor,
  zeros,
  type MMoE,
  type Tensor,
} from '../src/index.js';
import { DSelectKGate } from '../src/moe/dselect-gate.js';
import { summarizeGateWeights } from '../src/moe/gate-diagnostics.js';
import { CheckpointError, loadCheckpoint, readCheckpoint, saveCheckpoint } from '../src/node/checkpoint.js';
import { IdxFormatError, decodeIdx, encodeIdx } from '../src/node/data/idx.js';
import { CsvFormatError, readNumericCsv } from '../src/node/data/csv.js';
import { loadCsvData } from '../src/experiments/csv-data.js';
import { ensureDirectory } from '../src/node/ensure-dir.js';
import { readWeights, saveWeights } from '../src/node/weights-file.js';
import { decodeSafetensors, SafetensorsFormatError } from '../src/nn/safetensors.js';
import { WeightsFormatError } from '../src/nn/weights-format.js';
import { replaceDirectory } from '../src/node/replace-dir.js';
import { acquireRunLock, RunLockError } from '../src/node/run-lock.js';
import { summariseVariants, type CompareResults } from '../src/report/results.js';
import { writeReport } from '../src/report/write.js';
import { deadPid } from './cli-process.js';

/**
 * One regression test per defect of issue 11 (found by a hostile run at commit 4ced77d). Each asserts
 * the fixed behaviour, which the old code did not have; the numbers are the issue's. The defects that
 * need the command line (1, 4, 12, 13, 15, 18, 19) are in cli-reliability.test.ts.
 */
const root = mkdtempSync(join(tmpdir(), 'dselect-k-regressions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function smallModel(seed = 1): { model: MMoE; data: { x: Tensor; y: Tensor } } {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: 64 * 4 }, () => rng.normal());
  const y = Float32Array.from({ length: 64 * 2 }, () => rng.normal());
  const model = buildMMoE({ inputDim: 4, numTasks: 2, numExperts: 4, expertHidden: [4], expertOutputDim: 3, gate: { type: 'dselect-k', k: 2 }, seed });
  return { model, data: { x: fromTypedArray(x, [64, 4]), y: fromTypedArray(y, [64, 2]) } };
}

function trainedMlp(): { model: MLP; opt: Adam } {
  const model = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(1) });
  const opt = new Adam(model, { lr: 0.01 });
  opt.zeroGrad();
  mean(mul(model.forward(tensor([[1, 2, 3]])), 2)).backward();
  opt.step();
  return { model, opt };
}

/** A small but complete comparison: two variants, two seeds, four tasks. */
function compareResults(): CompareResults {
  const weights = [[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]];
  const run = (variant: string, seed: number) => ({
    variant,
    seed,
    taskMetrics: [0.2, 0.3, 0.25, 0.35].map((m) => m + 0.01 * seed),
    history: [1, 2].map((epoch) => ({ epoch, trainLoss: 1 / epoch, valLoss: 1.1 / epoch })),
    gateWeights: weights,
    activeExperts: 1.25,
    selection: null,
    trainSeconds: 1,
  });
  const variants = ['softmax-per-example', 'top-k-per-example'].map((id) => ({ id, label: id, regime: 'per-example' as const, runs: [0, 1].map((s) => run(id, s)) }));
  return {
    tool: 'dselect-k compare',
    createdAt: '2024-01-01T00:00:00.000Z',
    command: 'dselect-k compare',
    provenance: null,
    dataset: { name: 'synthetic', description: 'test', tasks: [0, 1, 2, 3].map((t) => ({ name: `task${t}`, metric: 'mse' as const, group: null })), sizes: { train: 10, val: 5, test: 5 }, details: {} },
    settings: { experts: 3, k: 1 },
    overallMetric: 'test MSE (mean over tasks)',
    lowerIsBetter: true,
    baselines: { 'per-example': 'top-k-per-example' },
    variants: summariseVariants(variants, 4, { 'per-example': 'top-k-per-example' }),
  };
}

const valuesOf = (m: { parameters(): Tensor[] }): number[][] => m.parameters().map((p) => Array.from(p.toArray()));

describe('issue 11 defects', () => {
  it('2: a changed header field (epoch 3 → 4, same length) is a checksum error, not a silently different run', () => {
    const { model, opt } = trainedMlp();
    const path = saveCheckpoint(join(root, 'd2'), { model, optimizer: opt, meta: { epoch: 3, gamma: 1, entropyWeight: 0.05 } });
    const bytes = readFileSync(path);
    const at = bytes.indexOf('"epoch":3');
    expect(at).toBeGreaterThan(0);
    bytes[at + '"epoch":'.length] = '4'.charCodeAt(0);
    writeFileSync(path, bytes);
    expect(() => readCheckpoint(path)).toThrow(CheckpointError);
    expect(() => readCheckpoint(path)).toThrow(/checksum mismatch/);
    const target = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(7) });
    const before = valuesOf(target);
    expect(() => loadCheckpoint(path, target)).toThrow(CheckpointError);
    expect(valuesOf(target)).toEqual(before);
  });

  it('3: evaluate refuses batchSize 0, −1, NaN and 1.5 at once instead of looping or returning NaN', () => {
    const { model, data } = smallModel();
    for (const batchSize of [0, -1, NaN, 1.5]) {
      expect(() => evaluate(model, data, { batchSize })).toThrow(`evaluate: batchSize must be an integer ≥ 1, got ${batchSize}`);
    }
    expect(evaluate(model, data, { batchSize: 7 }).taskLosses.every(Number.isFinite)).toBe(true);
  });

  it('4: creating a folder where the kernel answers ENOENT (/proc/x) fails at once with the path', () => {
    expect(() => ensureDirectory('/proc/x/y', 'test')).toThrow('test: cannot create directory /proc/x/y: mkdir /proc/x failed (ENOENT)');
    expect(() => saveCheckpoint('/proc/x', { model: trainedMlp().model })).toThrow(/saveCheckpoint: cannot create directory \/proc\/x/);
  });

  it('5: a checkpoint is one file written with one rename, and a misfit optimiser leaves the model unchanged', () => {
    // The old folder checkpoint (two renames) is gone; what remains to check is that the library
    // writes exactly one file and checks model AND optimiser before changing either.
    const dir = join(root, 'd5');
    const { model, opt } = trainedMlp();
    saveCheckpoint(dir, { model, optimizer: opt });
    expect(readdirSync(dir)).toEqual(['checkpoint.dsk']);
    const target = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(3) });
    const before = valuesOf(target);
    expect(() => loadCheckpoint(dir, target, new Adam(target.parameters().slice(2), { lr: 0.1 }))).toThrow(/parameter step counts/);
    expect(valuesOf(target)).toEqual(before);
  });

  it('6: fromTypedArray refuses integer arrays instead of reading their bits as float32', () => {
    expect(() => fromTypedArray(Int32Array.of(1, 2) as never, [2])).toThrow('fromTypedArray: expected a Float32Array or Float64Array, got Int32Array');
    expect(() => fromTypedArray(Uint8Array.of(1) as never, [1])).toThrow(/got Uint8Array/);
    // and what was saved reloads as written
    const dir = join(root, 'd6');
    saveWeights(dir, { w: tensor(Int32Array.of(1, 2, 3) as never) });
    expect(Array.from(readWeights(dir).tensors['w']!.toArray())).toEqual([1, 2, 3]);
  });

  it('7: backward through a disposed intermediate names the op instead of leaving .grad null', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = mul(x, 2);
    const loss = sum(mul(y, y));
    y.dispose();
    expect(() => loss.backward()).toThrow(/backward: input 0 of 'mul' \(tensor \[3\], id \d+\) was disposed before backward\(\)/);
  });

  it('8: cast to an unknown dtype is an error, not float32', () => {
    const x = tensor([1, 2]);
    expect(() => cast(x, 'int8' as never)).toThrow(`cast: unknown dtype "int8" (expected 'float32' or 'float64')`);
    expect(() => cast(x, undefined as never)).toThrow('cast: unknown dtype undefined');
  });

  it('9: a NaN (or infinite) validation loss stops fit with an error naming the epoch', () => {
    const { model, data } = smallModel();
    // Finite inputs so large that float32 overflows inside the model: the training data is fine.
    const huge = fromTypedArray(new Float32Array(8 * 4).fill(3e38), [8, 4]);
    const validation = { x: huge, y: fromTypedArray(new Float32Array(8 * 2), [8, 2]) };
    expect(() => fit(model, data, { epochs: 2, validation, earlyStopping: { patience: 1 } })).toThrow(/fit: the validation loss became (NaN|Infinity) at epoch 0 \(task \d loss (NaN|Infinity)\)/);
    // non-finite validation data is named before any training
    const nan = { x: fromTypedArray(new Float32Array(8 * 4).fill(NaN), [8, 4]), y: validation.y };
    expect(() => fit(model, data, { epochs: 1, validation: nan })).toThrow('fit (validation): non-finite value NaN in data.x [8,4] at row 0, element 0');
  });

  it('10: a gzip bomb is never inflated past the size its header declares', () => {
    // 256 gzip members of 1 MiB of zeros each behind a header declaring 10×10 bytes: 256 MiB if inflated.
    const zeros1MiB = gzipSync(new Uint8Array(1 << 20));
    const bomb = Buffer.concat([gzipSync(encodeIdx([10, 10], new Uint8Array(100))), ...Array.from({ length: 256 }, () => zeros1MiB)]);
    expect(bomb.length).toBeLessThan(1 << 20);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decodeIdx(bomb, 'bomb.gz')).toThrow(IdxFormatError);
    expect(() => decodeIdx(bomb, 'bomb.gz')).toThrow('idx: bomb.gz: the gzip stream inflates past the 112 bytes its header declares; stopped there');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
    // A header that declares more than maxBytes is refused before inflating anything more.
    const lying = new Uint8Array(16);
    lying.set([0, 0, 8, 3]);
    new DataView(lying.buffer).setUint32(4, 4096);
    new DataView(lying.buffer).setUint32(8, 4096);
    new DataView(lying.buffer).setUint32(12, 4096);
    expect(() => decodeIdx(Buffer.concat([gzipSync(lying), zeros1MiB]), 'lie.gz')).toThrow(/declares 68719476752 bytes of decompressed data, more than the 1073741824 accepted/);
  });

  it('11: a manifest cannot make loadWeights read outside its folder, nor reveal a file there', () => {
    const dir = join(root, 'd11', 'weights');
    saveWeights(dir, { w: tensor([1, 2]) });
    writeFileSync(join(root, 'd11', 'secret.bin'), new Uint8Array(12345));
    const manifestPath = join(dir, 'weights.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { binary: string };
    for (const binary of ['../secret.bin', join(root, 'd11', 'secret.bin'), '..', 'sub/../../secret.bin']) {
      writeFileSync(manifestPath, JSON.stringify({ ...manifest, binary }));
      let message = '';
      try {
        readWeights(dir);
      } catch (e) {
        expect(e).toBeInstanceOf(WeightsFormatError);
        message = (e as Error).message;
      }
      expect(message).toContain('must be a file name in the manifest\'s folder, not a path');
      expect(message).not.toContain('12345');
    }
  });

  it('12: two writers never delete each other\'s temporaries, and a second run cannot lock a folder in use', () => {
    const dir = join(root, 'd12');
    mkdirSync(dir);
    // the temporary of a live writer (this process stands in for the other run)
    const live = `.checkpoint.dsk.${process.pid}-abc-def.tmp`;
    writeFileSync(join(dir, live), 'half of another run\'s checkpoint');
    saveCheckpoint(dir, { model: trainedMlp().model });
    expect(readdirSync(dir).sort()).toEqual([live, 'checkpoint.dsk']);
    const lock = acquireRunLock(dir, { command: 'test run' });
    expect(() => acquireRunLock(dir, { command: 'second run' })).toThrow(RunLockError);
    expect(() => acquireRunLock(dir, { command: 'second run' })).toThrow(new RegExp(`d12 is in use by pid ${process.pid} on .* \\(test run, since `));
    lock.release();
    acquireRunLock(dir, { command: 'third run' }).release();
  });

  it('13: a report that fails half-way leaves the previous report folder exactly as it was', async () => {
    const dir = join(root, 'd13', 'report');
    const good = compareResults();
    await writeReport(dir, good);
    const before = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    expect(Object.keys(before)).toContain('results.json');
    // results.json is written first: the old code had already overwritten it when the figures failed
    const broken = { ...good, createdAt: 'later', variants: good.variants.map((v) => ({ ...v, runs: v.runs.map((r) => ({ ...r, gateWeights: null as never })) })) };
    await expect(writeReport(dir, broken)).rejects.toThrow();
    expect(Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]))).toEqual(before);
    expect(readdirSync(join(root, 'd13'))).toEqual(['report']);
  });

  it('13: a report folder lost between the two renames of a swap (a hard kill) is put back by the next write', async () => {
    const parent = join(root, 'd13-crash');
    const killed = deadPid();
    mkdirSync(join(parent, `.report.previous-${killed}`), { recursive: true });
    writeFileSync(join(parent, `.report.previous-${killed}`, 'results.json'), '{"tool":"dselect-k compare"}');
    mkdirSync(join(parent, `.report.staging-${killed}`));
    await expect(replaceDirectory(join(parent, 'report'), () => Promise.reject(new Error('interrupted (injected)')))).rejects.toThrow('injected');
    expect(readdirSync(parent)).toEqual(['report']);
    expect(readFileSync(join(parent, 'report', 'results.json'), 'utf8')).toBe('{"tool":"dselect-k compare"}');
  });

  it('14: a tensor named __proto__ is refused, on save and on load, instead of vanishing', () => {
    const dir = join(root, 'd14');
    const dict = JSON.parse('{"__proto__": 0}') as Record<string, unknown>;
    dict['__proto__'] = tensor([1]);
    expect(() => saveWeights(dir, dict as Record<string, Tensor>)).toThrow(/tensor name '__proto__' is not allowed/);
    saveWeights(dir, { a: tensor([1]) });
    const manifestPath = join(dir, 'weights.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { tensors: { name: string }[] };
    manifest.tensors[0]!.name = '__proto__';
    writeFileSync(manifestPath, JSON.stringify(manifest));
    expect(() => readWeights(dir)).toThrow(WeightsFormatError);
    expect(() => readWeights(dir)).toThrow(/tensor '__proto__' is not allowed/);
    // the same in a safetensors file (added later, same trap)
    const header = new TextEncoder().encode(JSON.stringify({ ['__proto__']: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const file = new Uint8Array(8 + header.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    expect(() => decodeSafetensors(file, 'x.safetensors')).toThrow("x.safetensors: not a valid safetensors file: tensor name '__proto__' is not allowed");
  });

  it('15: smooth-step with γ = 1e-300 is 0.5 at 0 (not NaN); gates refuse a γ float32 cannot train with', () => {
    const s = smoothStep(tensor([0, 1e-301, -1e-301, 1e-299], { dtype: 'float64' }), 1e-300);
    expect(Array.from(s.toArray())).toEqual([0.5, 0.5 + 0.1 * (1.5 - 0.02), 0.5 - 0.1 * (1.5 - 0.02), 1]);
    expect(() => new DSelectKGate({ numExperts: 4, k: 2, gamma: 1e300 })).toThrow(/DSelectKGate: gamma 1e\+300 is out of range for float32/);
    expect(() => new DSelectKGate({ numExperts: 4, k: 2, gamma: 1e-300 })).toThrow(/DSelectKGate: gamma 1e-300 is out of range for float32/);
    expect(new DSelectKGate({ numExperts: 4, k: 2, gamma: 1e-3 }).gamma).toBe(1e-3);
  });

  it('16: messages say what is wrong: NaN before any step, an unaligned offset, a null manifest', () => {
    const { model } = smallModel();
    const huge = { x: fromTypedArray(new Float32Array(8 * 4).fill(3e38), [8, 4]), y: fromTypedArray(new Float32Array(8 * 2), [8, 2]) };
    let message = '';
    try {
      fit(model, huge, { epochs: 1 });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/fit: the objective became (NaN|Infinity) at epoch 0, batch 0 .*before any optimiser step, so not the learning rate/);
    expect(message).not.toContain('try a smaller learning rate');

    const dir = join(root, 'd16');
    saveWeights(dir, { a: tensor([1]), b: tensor([2]) });
    const manifestPath = join(dir, 'weights.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { tensors: { byteOffset: number }[] };
    manifest.tensors[1]!.byteOffset = 4;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    expect(() => readWeights(dir)).toThrow(/tensor 'b' has byteOffset 4, which is not a multiple of 8/);
    writeFileSync(manifestPath, 'null');
    expect(() => readWeights(dir)).toThrow(/invalid weights manifest: not a JSON object \(got null\)/);
  });

  it('17: huge or unsupported creations name the op and the shape instead of a raw V8 error', () => {
    expect(() => zeros([1e6, 1e6])).toThrow('zeros: [1000000,1000000] has 1000000000000 elements');
    expect(() => arange(0, 1e12)).toThrow(/^arange: arange\(0, 1000000000000, 1\) has 1000000000000 elements/);
    expect(() => tensor(new BigInt64Array(2) as never)).toThrow('tensor: BigInt64Array is not supported');
    expect(() => new MLP({ inputDim: 2, hidden: [], outputDim: 1 }).loadStateDict(null as never)).toThrow('MLP.loadStateDict: state must be an object of tensors, got null');
  });

  it('20: Adam.loadStateDict refuses lr −1 (and bad betas) and changes nothing', () => {
    const { model, opt } = trainedMlp();
    const state = opt.stateDict();
    const fresh = new Adam(model, { lr: 0.5 });
    expect(() => fresh.loadStateDict({ ...state, hyperparameters: { ...state.hyperparameters, lr: -1 } })).toThrow('Adam.loadStateDict: hyperparameters: lr must be a finite number > 0, got -1');
    expect(() => fresh.loadStateDict({ ...state, hyperparameters: { ...state.hyperparameters, beta2: 1.5 } })).toThrow(/betas\[1\] must be in \[0, 1\), got 1.5/);
    expect(() => fresh.loadStateDict({ ...state, hyperparameters: { ...state.hyperparameters, eps: 'x' as never } })).toThrow(/hyperparameter eps must be a number, got "x"/);
    expect(fresh.lr).toBe(0.5);
    expect(fresh.beta2).toBe(0.999);
    fresh.loadStateDict(state);
    expect(fresh.lr).toBe(0.01);
  });

  it('21: diagnostics of NaN gate weights report no active experts and a violation per row', () => {
    const d = summarizeGateWeights('dselect-k', { data: new Float32Array(2 * 4).fill(NaN), rows: 2, numExperts: 4 });
    expect(d.activeExperts).toEqual({ mean: 0, max: 0 });
    expect(d.sumViolations).toBe(2);
    expect(d.nonFiniteWeights).toBe(8);
    expect(d.selectedExperts).toEqual([]);
    expect(d.unusedExperts).toEqual([]);
  });
});

describe('defects the safetensors and CSV fuzzers found', () => {
  const csv = (name: string, text: string): string => {
    const path = join(root, name);
    writeFileSync(path, text);
    return path;
  };

  it('safetensors: a dim that is no safe integer ([0, 1e300] holds no bytes) is a named error, not a tensor of shape [0, 1e300]', () => {
    const header = new TextEncoder().encode(JSON.stringify({ empty: { dtype: 'F32', shape: [0, 1e300], data_offsets: [0, 0] } }));
    const file = new Uint8Array(8 + header.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    expect(() => decodeSafetensors(file, 'e.safetensors')).toThrow(SafetensorsFormatError);
    expect(() => decodeSafetensors(file, 'e.safetensors')).toThrow("e.safetensors: not a valid safetensors file: tensor 'empty' has an invalid shape [0,1e+300]");
    expect(() => decodeSafetensors(new Uint8Array(3), 'short')).toThrow(SafetensorsFormatError);
  });

  it('CSV: an error names the line the row is on when blank lines come before it (the reader and --data targets)', () => {
    const path = csv('blank-lines.csv', 'a,y\n\n1,0\n\n\n2,x\n');
    expect(() => readNumericCsv(path)).toThrow(CsvFormatError);
    expect(() => readNumericCsv(path)).toThrow(`${path}: line 6, column 'y': "x" is not a finite decimal number (every cell must be one)`);
    const targets = csv('blank-targets.csv', 'a,y\n1,0\n\n2,1\n\n3,7\n');
    expect(Array.from(readNumericCsv(targets).lines)).toEqual([2, 4, 6]);
    expect(() => loadCsvData({ path: targets, targets: ['y'], taskTypes: ['bce'], features: null }, { valSize: 1, testSize: 1, trainSize: null, seed: 0 })).toThrow("blank-targets.csv: line 6, target 'y' (bce) is 7");
  });

  it('CSV: LF and CRLF line ends mixed in one file read as the rows they are', () => {
    const t = readNumericCsv(csv('mixed.csv', 'a,b\r\n1,2\n3,4\r\n5,6\n'));
    expect(t.rows).toBe(3);
    expect(Array.from(t.values)).toEqual([1, 2, 3, 4, 5, 6]);
    const one = readNumericCsv(csv('mixed-one-column.csv', 'a\r\n1\n2\r\n'));
    expect(Array.from(one.values)).toEqual([1, 2]);
  });

  it('CSV: hex, binary and octal spellings are refused, not read as 16, 5 and 15', () => {
    for (const cell of ['0x10', '0b101', '0o17']) {
      expect(() => readNumericCsv(csv('radix.csv', `a,b\n1,${cell}\n`))).toThrow(`line 2, column 'b': "${cell}" is not a finite decimal number`);
    }
    expect(Array.from(readNumericCsv(csv('decimal.csv', 'a,b,c\n+1.5,.5,-2e-3\n1.,"7", 8 \n')).values)).toEqual([1.5, 0.5, -0.002, 1, 7, 8]);
  });
});
