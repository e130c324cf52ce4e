import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { crc32, gzipSync } from 'node:zlib';
import { Adam } from '../../src/optim/adam.js';
import { MLP } from '../../src/nn/mlp.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { mean, mul, tensor } from '../../src/index.js';
import { CheckpointError, encodeCheckpoint, loadCheckpoint } from '../../src/node/checkpoint.js';
import { decodeIdx, encodeIdx, IdxFormatError, type IdxArray } from '../../src/node/data/idx.js';
import { readWeights, saveWeights } from '../../src/node/weights-file.js';
import { WeightsFormatError } from '../../src/nn/weights-format.js';
import { mutateBytes, mutateJson, pick, type Mutated } from './mutate.js';
import { READER_FUZZERS } from './reader-fuzz.js';

/**
 * The loader fuzzer: seeded mutations of valid IDX (plain and gzipped), weights (manifest + binary),
 * checkpoint, safetensors and CSV files (the last two in reader-fuzz.ts), each fed to the loader. Every
 * mutation must end in the loader's named error (IdxFormatError, WeightsFormatError, CheckpointError,
 * SafetensorsFormatError, CsvFormatError) or in a load whose result is consistent — never another
 * exception, and never a file read outside the folder (or file) the loader was given (file
 * system calls are watched while a loader runs). Hangs and runaway memory show up as the caller's
 * timeout and in `peakArrayBuffers`.
 */
export type FuzzFormat = 'idx' | 'idx-gz' | 'weights' | 'checkpoint' | 'safetensors' | 'csv';
// appended, not inserted: a format's position seeds its mutations
export const FUZZ_FORMATS: readonly FuzzFormat[] = ['idx', 'idx-gz', 'weights', 'checkpoint', 'safetensors', 'csv'];

export interface FuzzFailure {
  index: number;
  what: string;
  problem: string;
}

export interface FuzzReport {
  format: FuzzFormat;
  seed: number;
  mutations: number;
  loaded: number;
  /** Named errors by their first words, e.g. "WeightsFormatError: … invalid weights manifest". */
  errors: Record<string, number>;
  failures: FuzzFailure[];
  /** Slowest single mutation, ms (informational). */
  slowestMs: number;
  /** Largest growth of process.memoryUsage().arrayBuffers seen after a mutation, bytes (informational). */
  peakArrayBuffers: number;
}

/** Runs `mutations` mutations of one format, mutation i seeded from (seed, format, i): any single one can be replayed. */
export async function fuzzFormat(format: FuzzFormat, opts: { seed: number; mutations: number; workDir: string; first?: number }): Promise<FuzzReport> {
  const work = resolve(opts.workDir, format);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const secret = join(work, 'secret.bin');
  fs.writeFileSync(secret, new Uint8Array(12345).fill(7));
  const fuzzer = FUZZERS[format](work, secret);
  const report: FuzzReport = { format, seed: opts.seed, mutations: opts.mutations, loaded: 0, errors: {}, failures: [], slowestMs: 0, peakArrayBuffers: 0 };
  const baseline = process.memoryUsage().arrayBuffers;
  const first = opts.first ?? 0;
  try {
    for (let i = first; i < first + opts.mutations; i++) {
      // Node releases the zlib state of a failed *Sync call only once the event loop turns: let it.
      if ((i - first) % 256 === 255) await new Promise((resolve) => setTimeout(resolve, 0));
      const rng = new Rng(mixSeed(opts.seed, format, i));
      const started = performance.now();
      let what = '(not prepared)';
      try {
        const testCase = fuzzer.prepare(rng);
        what = testCase.what;
        const outcome = watchFileSystem(testCase.folder, () => {
          try {
            const problem = testCase.load();
            return problem === null ? { kind: 'loaded' as const } : { kind: 'bad-load' as const, problem };
          } catch (e) {
            return { kind: 'threw' as const, error: e };
          }
        });
        if (outcome.outside.length > 0) report.failures.push({ index: i, what, problem: `read outside ${testCase.folder}: ${outcome.outside.join(', ')}` });
        const r = outcome.result;
        if (r.kind === 'loaded') report.loaded++;
        else if (r.kind === 'bad-load') report.failures.push({ index: i, what, problem: `inconsistent load: ${r.problem}` });
        else if (fuzzer.named(r.error)) {
          const key = `${(r.error as Error).name}: ${errorKind((r.error as Error).message)}`;
          report.errors[key] = (report.errors[key] ?? 0) + 1;
        } else {
          const e = r.error as Error;
          report.failures.push({ index: i, what, problem: `unnamed error ${e?.name}: ${e?.message}` });
        }
      } catch (e) {
        report.failures.push({ index: i, what, problem: `harness: ${(e as Error).message}` });
      }
      report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
      report.peakArrayBuffers = Math.max(report.peakArrayBuffers, process.memoryUsage().arrayBuffers - baseline);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return report;
}

function mixSeed(seed: number, format: FuzzFormat, index: number): number {
  const f = FUZZ_FORMATS.indexOf(format) + 1;
  return (Math.imul(seed ^ 0x3c6ef372, 0x9e3779b1) + Math.imul(f, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

/** The message with file paths and numbers removed: errors of one kind count together. */
function errorKind(message: string): string {
  return message
    .replace(/\/[^\s:'"]+/g, '<path>')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N')
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"')
    .slice(0, 90);
}

interface Case {
  what: string;
  /** The folder the loader is given: it must read nothing outside it. */
  folder: string;
  /** Runs the loader; returns null for a consistent load, else what is wrong with it. */
  load(): string | null;
}

interface Fuzzer {
  prepare(rng: Rng): Case;
  named(e: unknown): boolean;
}

const FUZZERS: Record<FuzzFormat, (work: string, secret: string) => Fuzzer> = {
  idx: (work) => idxFuzzer(work, false),
  'idx-gz': (work) => idxFuzzer(work, true),
  weights: weightsFuzzer,
  checkpoint: checkpointFuzzer,
  safetensors: READER_FUZZERS.safetensors,
  csv: READER_FUZZERS.csv,
};

// ---------------------------------------------------------------------------------------------- IDX

function idxFuzzer(work: string, gz: boolean): Fuzzer {
  const seeds = [
    encodeIdx([3, 4, 5], Uint8Array.from({ length: 60 }, (_, i) => (i * 37 + 11) & 255)),
    encodeIdx([10], Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 0)),
    encodeIdx([2, 28, 28], Uint8Array.from({ length: 2 * 784 }, (_, i) => (i * 7) & 255)),
  ];
  const zeros4MiB = gzipSync(new Uint8Array(4 << 20));
  return {
    named: (e) => e instanceof IdxFormatError,
    prepare: (rng) => {
      const plain = pick(rng, seeds);
      let m: Mutated<Uint8Array>;
      if (rng.uniform() < 0.35) {
        m = mutateIdxHeader(rng, plain);
        if (gz) m = { value: gzipSync(m.value), what: `gzip(${m.what})` };
      } else if (gz) {
        const packed = gzipSync(plain);
        m = rng.uniform() < 0.1 ? { value: concat(packed, ...Array.from({ length: 1 + rng.int(16) }, () => zeros4MiB)), what: 'gzip bomb: zero members appended' } : mutateBytes(rng, packed);
      } else {
        m = mutateBytes(rng, plain);
      }
      const bytes = m.value;
      return {
        what: m.what,
        folder: work,
        load: () => checkIdx(decodeIdx(bytes, 'fuzz.idx', { maxBytes: 64 << 20 })),
      };
    },
  };
}

function mutateIdxHeader(rng: Rng, plain: Uint8Array): Mutated<Uint8Array> {
  const out = Uint8Array.from(plain);
  const view = new DataView(out.buffer);
  const ndims = out[3]!;
  switch (rng.int(4)) {
    case 0: {
      const code = pick(rng, [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff]);
      out[2] = code;
      return { value: out, what: `type code ${code}` };
    }
    case 1: {
      const n = pick(rng, [0, 1, 2, 4, 255, ndims + 1, ndims - 1]) & 255;
      out[3] = n;
      return { value: out, what: `ndims ${n}` };
    }
    default: {
      const d = rng.int(ndims);
      const v = pick(rng, [0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 65536, view.getUint32(4 + 4 * d) + 1, view.getUint32(4 + 4 * d) * 2]) >>> 0;
      view.setUint32(4 + 4 * d, v);
      return { value: out, what: `dim ${d} = ${v}` };
    }
  }
}

function checkIdx(idx: IdxArray): string | null {
  if (!idx.dims.every((d) => Number.isInteger(d) && d >= 0)) return `dims ${JSON.stringify(idx.dims)}`;
  const count = idx.dims.reduce((a, b) => a * b, 1);
  if (idx.data.length !== count) return `${idx.data.length} data bytes for dims [${idx.dims.join(', ')}]`;
  return null;
}

// ------------------------------------------------------------------------------------------ weights

function weightsFuzzer(work: string, secret: string): Fuzzer {
  const folder = join(work, 'case');
  const model = new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(1) });
  fs.mkdirSync(folder, { recursive: true });
  saveWeights(folder, model, { epoch: 3, note: 'fuzz' });
  const manifestText = fs.readFileSync(join(folder, 'weights.json'));
  const binary = new Uint8Array(fs.readFileSync(join(folder, 'weights.bin')));
  const manifest = JSON.parse(manifestText.toString('utf8')) as { crc32?: number };
  return {
    named: (e) => e instanceof WeightsFormatError,
    prepare: (rng) => {
      let manifestBytes: Uint8Array = manifestText;
      let binaryBytes: Uint8Array | null = binary;
      let what: string;
      const kind = rng.uniform();
      if (kind < 0.05) {
        // the binary's name pointed elsewhere (a JSON-level mutation hits this field only now and then)
        const name = pick(rng, ['../secret.bin', '../../secret.bin', secret, 'sub/../../secret.bin', '..', '.', 'weights.bin/', './weights.bin', 'weights.json', '/etc/hostname', '']);
        manifestBytes = new TextEncoder().encode(JSON.stringify({ ...manifest, binary: name }));
        what = `manifest: binary = ${JSON.stringify(name)}`;
      } else if (kind < 0.55) {
        const m = mutateJson(rng, manifest, secret);
        manifestBytes = m.value;
        what = `manifest: ${m.what}`;
      } else if (kind < 0.75) {
        const m = mutateBytes(rng, binary);
        binaryBytes = m.value;
        what = `binary: ${m.what}`;
      } else if (kind < 0.93) {
        // the binary changed and the manifest re-signed (or its checksum dropped): the decoder must cope
        const m = mutateBytes(rng, binary);
        binaryBytes = m.value;
        const resigned = rng.uniform() < 0.5 ? { ...manifest, crc32: crc32(m.value), byteLength: m.value.length } : { ...manifest, crc32: undefined };
        manifestBytes = new TextEncoder().encode(JSON.stringify(resigned));
        what = `binary (manifest re-signed): ${m.what}`;
      } else {
        const which = rng.int(3);
        if (which === 0) binaryBytes = null;
        what = ['binary missing', 'manifest is a folder', 'binary is a folder'][which]!;
        if (which === 1) manifestBytes = new Uint8Array(0);
      }
      // Only the two files change between cases (a folder in their place is made and removed again).
      const manifestPath = join(folder, 'weights.json');
      const binaryPath = join(folder, 'weights.bin');
      for (const path of [manifestPath, binaryPath]) if (fs.existsSync(path) && fs.statSync(path).isDirectory()) fs.rmdirSync(path);
      if (what === 'manifest is a folder') {
        fs.rmSync(manifestPath, { force: true });
        fs.mkdirSync(manifestPath);
      } else fs.writeFileSync(manifestPath, manifestBytes);
      if (what === 'binary is a folder') {
        fs.rmSync(binaryPath, { force: true });
        fs.mkdirSync(binaryPath);
      } else if (binaryBytes !== null) fs.writeFileSync(binaryPath, binaryBytes);
      else fs.rmSync(binaryPath, { force: true });
      return { what, folder, load: () => checkStateDict(readWeights(folder).tensors) };
    },
  };
}

function checkStateDict(tensors: Record<string, Tensor>): string | null {
  if (Object.getPrototypeOf(tensors) !== Object.prototype) return 'the state dict has another prototype';
  if (({} as Record<string, unknown>)['polluted'] !== undefined) return 'Object.prototype was polluted';
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) return `'${name}' is not a Tensor`;
    const data = t.toArray();
    if (data.length !== t.shape.reduce((a, b) => a * b, 1)) return `'${name}' holds ${data.length} elements for shape [${t.shape.join(',')}]`;
    if (!data.every(Number.isFinite)) return `'${name}' holds a non-finite value`;
  }
  return null;
}

// --------------------------------------------------------------------------------------- checkpoint

function checkpointFuzzer(work: string, secret: string): Fuzzer {
  const folder = join(work, 'case');
  fs.mkdirSync(folder, { recursive: true });
  const file = join(folder, 'checkpoint.dsk');
  const build = () => new MLP({ inputDim: 3, hidden: [4], outputDim: 2, rng: new Rng(1) });
  const model = build();
  const optimizer = new Adam(model, { lr: 0.01 });
  optimizer.zeroGrad();
  mean(mul(model.forward(tensor([[1, 2, 3], [-1, 0.5, 2]])), 2)).backward();
  optimizer.step();
  const good = concat(...encodeCheckpoint({ model, optimizer, meta: { config: { gate: 'dselect-k' }, epoch: 3, extra: { position: null } } }));
  const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const headerLength = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(good.subarray(12, 12 + headerLength))) as unknown;
  const dataStart = 12 + headerLength + ((8 - ((12 + headerLength) % 8)) % 8);
  const data = good.subarray(dataStart, good.length - 4);
  const target = build();
  const opt = new Adam(target, { lr: 0.5 });
  return {
    named: (e) => e instanceof CheckpointError,
    prepare: (rng) => {
      let bytes: Uint8Array;
      let what: string;
      const kind = rng.uniform();
      if (kind < 0.3) {
        const m = mutateBytes(rng, good);
        ({ value: bytes, what } = m);
      } else if (kind < 0.75) {
        const m = mutateJson(rng, header, secret);
        bytes = sign(m.value, data);
        what = `header (re-signed): ${m.what}`;
      } else if (kind < 0.9) {
        const m = mutateBytes(rng, data);
        bytes = sign(new TextEncoder().encode(JSON.stringify(header)), m.value);
        what = `data (re-signed): ${m.what}`;
      } else {
        // a header length lie that the checksum agrees with
        const out = Uint8Array.from(good.subarray(0, good.length - 4));
        const lie = pick(rng, [0, 1, headerLength - 1, headerLength + 1, headerLength + 8, out.length, 0xffffffff, 0x7fffffff]) >>> 0;
        new DataView(out.buffer).setUint32(8, lie, true);
        bytes = concat(out, u32le(crc32(out)));
        what = `header length ${lie} (re-signed)`;
      }
      fs.writeFileSync(file, bytes);
      return {
        what,
        folder,
        load: () => {
          // One model and optimiser for every case: a failed load changes neither, a good one sets both whole.
          loadCheckpoint(folder, target, opt);
          const problem = checkStateDict(target.stateDict());
          if (problem) return problem;
          return opt.lr > 0 && Number.isFinite(opt.lr) ? null : `learning rate ${opt.lr}`;
        },
      };
    },
  };
}

/** A checkpoint file around `headerBytes` and `data` with a correct length field, padding and CRC. */
function sign(headerBytes: Uint8Array, data: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(12);
  prefix.set(new TextEncoder().encode('DSKCKPT\n'));
  new DataView(prefix.buffer).setUint32(8, headerBytes.length, true);
  const padding = new Uint8Array((8 - ((12 + headerBytes.length) % 8)) % 8);
  const body = concat(prefix, headerBytes, padding, data);
  return concat(body, u32le(crc32(body)));
}

function u32le(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, true);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// -------------------------------------------------------------------------------- file-system watch

const WATCHED = ['readFileSync', 'statSync', 'lstatSync', 'existsSync', 'openSync', 'readdirSync', 'realpathSync', 'createReadStream'] as const;
let watching: { folder: string; outside: string[] } | null = null;

/**
 * Wraps the fs functions a loader could read with (in the CommonJS object, then synced into the ES
 * module bindings every importer of node:fs sees) so that each path given to them while `fn` runs is
 * checked against `folder`.
 */
function installWatch(): void {
  const cjs = createRequire(import.meta.url)('node:fs') as Record<string, unknown>;
  if ((cjs['readFileSync'] as { fuzzWatched?: boolean }).fuzzWatched) return;
  for (const name of WATCHED) {
    const original = cjs[name] as (...args: unknown[]) => unknown;
    const wrapped = (...args: unknown[]): unknown => {
      if (watching && (typeof args[0] === 'string' || args[0] instanceof URL || Buffer.isBuffer(args[0]))) {
        const p = resolve(String(args[0] instanceof URL ? args[0].pathname : args[0]));
        const rel = relative(watching.folder, p);
        if (rel.startsWith('..') || isAbsolute(rel)) watching.outside.push(`${name}(${p})`);
      }
      return original(...args);
    };
    Object.assign(wrapped, { fuzzWatched: true });
    cjs[name] = wrapped;
  }
  syncBuiltinESMExports();
}

function watchFileSystem<T>(folder: string, fn: () => T): { result: T; outside: string[] } {
  installWatch();
  watching = { folder: resolve(folder), outside: [] };
  try {
    const result = fn();
    return { result, outside: watching.outside };
  } finally {
    watching = null;
  }
}
