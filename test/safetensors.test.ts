import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMMoE, decodeSafetensors, encodeSafetensors, tensor, type Tensor } from '../src/index.js';
import { loadSafetensors, readSafetensors, saveSafetensors } from '../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-k-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const arr = (t: Tensor): number[] => Array.from(t.toArray());
/** Debian's Python (CI installs python3; python3-torch only where it is installed). */
const PYTHON = '/usr/bin/python3';

function python(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const hasTorch = existsSync(PYTHON) && python('import torch', []).status === 0;

describe('safetensors', () => {
  const model = buildMMoE({ inputDim: 5, numTasks: 2, numExperts: 3, expertHidden: [4], expertOutputDim: 2, gate: { type: 'dselect-k', k: 2 }, seed: 1 });

  it('round-trips a model: every tensor, name, shape and value', () => {
    const path = saveSafetensors(join(dir, 'model.safetensors'), model, { task: 'demo' });
    const { tensors, metadata } = readSafetensors(path);
    expect(metadata).toEqual({ producer: 'dselect-k', task: 'demo' });
    const state = model.stateDict();
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(state).sort());
    for (const [name, t] of Object.entries(state)) {
      expect(tensors[name]!.shape, name).toEqual(t.shape);
      expect(arr(tensors[name]!), name).toEqual(arr(t));
    }
    const copy = buildMMoE({ inputDim: 5, numTasks: 2, numExperts: 3, expertHidden: [4], expertOutputDim: 2, gate: { type: 'dselect-k', k: 2 }, seed: 99 });
    loadSafetensors(path, copy);
    expect(copy.parameters().map(arr)).toEqual(model.parameters().map(arr));
  });

  it('lays the file out as the specification says: u64 header length, JSON padded to 8 bytes, tensors back to back', () => {
    const bytes = encodeSafetensors({ b: tensor([1, 2, 3]), a: tensor([[0.5]], { dtype: 'float64' }) }, { note: 'x' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    expect(header['a']).toEqual({ dtype: 'F64', shape: [1, 1], data_offsets: [0, 8] });
    expect(header['b']).toEqual({ dtype: 'F32', shape: [3], data_offsets: [8, 20] });
    expect(header['__metadata__']).toEqual({ note: 'x' });
    expect(bytes.byteLength).toBe(8 + n + 20);
    expect(new Float64Array(bytes.slice(8 + n, 8 + n + 8).buffer)[0]).toBe(0.5);
  });

  it('rejects a damaged file with a reason naming it', () => {
    const good = encodeSafetensors({ w: tensor([1, 2]) });
    expect(() => decodeSafetensors(good.subarray(0, good.byteLength - 4), 'f.safetensors')).toThrow("f.safetensors: not a valid safetensors file: tensor 'w' ends at byte 8 of a 4-byte data section (truncated file?)");
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/header length 1099511627776 runs past the end/);
    const header = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'I8', shape: [1], data_offsets: [0, 1] } }));
    const bad = new Uint8Array(8 + header.byteLength + 1);
    new DataView(bad.buffer).setBigUint64(0, BigInt(header.byteLength), true);
    bad.set(header, 8);
    expect(() => decodeSafetensors(bad)).toThrow(/tensor 'w' has dtype "I8" \(readable: F64, F32, F16, BF16\)/);
  });

  it.skipIf(!existsSync(PYTHON))('Python reads our file with a hand-written parser (struct + json) and gets the same values', () => {
    const path = saveSafetensors(join(dir, 'py.safetensors'), { 'experts.0.weight': tensor([[1.5, -2], [3.25, 4]]), scale: tensor([0.1], { dtype: 'float64' }) });
    const script = `
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
n, = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + n])
out = {}
for name, e in header.items():
    if name == '__metadata__': continue
    b, end = e['data_offsets']
    fmt = {'F32': 'f', 'F64': 'd'}[e['dtype']]
    out[name] = {'shape': e['shape'], 'values': list(struct.unpack('<%d%s' % ((end - b) // struct.calcsize(fmt), fmt), data[8 + n + b:8 + n + end]))}
print(json.dumps(out))`;
    const r = python(script, [path]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ 'experts.0.weight': { shape: [2, 2], values: [1.5, -2, 3.25, 4] }, scale: { shape: [1], values: [0.1] } });
  });

  it.skipIf(!hasTorch)("Debian's PyTorch builds tensors from our file and writes one (F16 included) that we read", () => {
    const path = saveSafetensors(join(dir, 'torch.safetensors'), model);
    const written = join(dir, 'from-torch.safetensors');
    // torch 1.13 has no safetensors package: parse the header by hand, build tensors with torch.frombuffer.
    const script = `
import json, struct, sys, torch
data = bytearray(open(sys.argv[1], 'rb').read())
n, = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + n])
dtypes = {'F32': torch.float32, 'F64': torch.float64}
sums = {}
for name, e in header.items():
    if name == '__metadata__': continue
    b, end = e['data_offsets']
    t = torch.frombuffer(data[8 + n + b:8 + n + end], dtype=dtypes[e['dtype']]).reshape(e['shape'])
    sums[name] = [list(t.shape), float(t.double().sum())]
# and write a file of our own with torch tensors
tensors = {'half': torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16), 'w': torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4}
header, chunks, offset = {}, [], 0
for name, t in tensors.items():
    raw = t.numpy().tobytes()
    header[name] = {'dtype': {torch.float16: 'F16', torch.float32: 'F32'}[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
    chunks.append(raw); offset += len(raw)
h = json.dumps(header).encode()
h += b' ' * ((8 - (8 + len(h)) % 8) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(chunks))
print(json.dumps(sums))`;
    const r = python(script, [path, written]);
    expect(r.status, r.stderr).toBe(0);
    const sums = JSON.parse(r.stdout) as Record<string, [number[], number]>;
    for (const [name, t] of Object.entries(model.stateDict())) {
      expect(sums[name]![0], name).toEqual(t.shape);
      expect(sums[name]![1], name).toBeCloseTo(arr(t).reduce((a, v) => a + v, 0), 5);
    }
    const fromTorch = readSafetensors(written).tensors;
    expect(arr(fromTorch['half']!)).toEqual([0.5, -2, 65504]);
    expect(fromTorch['w']!.shape).toEqual([2, 3]);
    expect(arr(fromTorch['w']!)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
  });
});
