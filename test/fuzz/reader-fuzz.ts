import * as fs from 'node:fs';
import { join } from 'node:path';
import { readNumericCsv, CsvFormatError } from '../../src/node/data/csv.js';
import { readSafetensors } from '../../src/node/safetensors-file.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsFormatError } from '../../src/nn/safetensors.js';
import { fromTypedArray } from '../../src/tensor/creation.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { mutateBytes, mutateJson, oddValue, pick, type Mutated } from './mutate.js';

/**
 * Fuzzers for the two readers of single files: safetensors (the 8-byte header length, the JSON header's
 * offsets, dtypes and shapes, the data) and numeric CSV (quoting, ragged rows, odd cells, line ends,
 * BOM, huge lines). Plugged into loader-fuzz.ts's driver: each case names the one file the reader may read.
 */
export interface ReaderCase {
  what: string;
  folder: string;
  load(): string | null;
}

export interface ReaderFuzzer {
  prepare(rng: Rng): ReaderCase;
  named(e: unknown): boolean;
}

// ------------------------------------------------------------------------------------------ safetensors

const u64 = (v: bigint): Uint8Array => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
};

/** A safetensors file around `header` (any bytes) and `data`: a correct length field unless `length` lies. */
function frame(header: Uint8Array, data: Uint8Array, length: bigint = BigInt(header.length)): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  out.set(u64(length));
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** A hand-written F16 + BF16 file (the writer only writes F32 and F64). */
function halfFile(): Uint8Array {
  const header = { h: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] } };
  const data = Uint8Array.of(0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x80, 0x3f, 0x80, 0xbf, 0x80, 0x7f);
  return frame(new TextEncoder().encode(JSON.stringify(header)), data);
}

export function safetensorsFuzzer(work: string, secret: string): ReaderFuzzer {
  const folder = join(work, 'case');
  fs.mkdirSync(folder, { recursive: true });
  const file = join(folder, 'model.safetensors');
  const rng0 = new Rng(3);
  const f32 = (shape: number[]) => fromTypedArray(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng0.normal()), shape);
  const seeds = [
    encodeSafetensors({ 'layer.weight': f32([3, 4]), 'layer.bias': f32([4]), scalar: f32([]) }, { producer: 'fuzz', epoch: '3' }),
    encodeSafetensors({ w: fromTypedArray(Float64Array.of(1, -2, 3.5, Number.MAX_VALUE), [2, 2]), v: f32([5]), empty: f32([0, 3]) }),
    halfFile(),
  ];
  const parts = (bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } => {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>, data: bytes.subarray(8 + n) };
  };
  return {
    named: (e) => e instanceof SafetensorsFormatError,
    prepare: (rng) => {
      const seed = pick(rng, seeds);
      const { header, data } = parts(seed);
      const headerText = new TextEncoder().encode(JSON.stringify(header));
      const kind = rng.uniform();
      let m: Mutated<Uint8Array>;
      if (kind < 0.3) {
        m = mutateBytes(rng, seed);
      } else if (kind < 0.45) {
        // a lie in the 8-byte header length, little or big, high word included
        const lies = [0n, 1n, 7n, BigInt(headerText.length - 1), BigInt(headerText.length + 1), BigInt(seed.length), BigInt(seed.length - 7), 2n ** 32n, 2n ** 32n + BigInt(headerText.length), 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n];
        const lie = pick(rng, lies);
        m = { value: frame(headerText, data, lie), what: `header length ${lie}` };
      } else if (kind < 0.8) {
        const j = mutateJson(rng, header, secret);
        m = { value: frame(j.value, data), what: `header: ${j.what}` };
      } else if (kind < 0.95) {
        const j = mutateTensorEntry(rng, header, secret);
        m = { value: frame(new TextEncoder().encode(JSON.stringify(j.value)), data), what: `entry: ${j.what}` };
      } else {
        const tail = mutateBytes(rng, data);
        m = { value: frame(headerText, tail.value), what: `data: ${tail.what}` };
      }
      fs.writeFileSync(file, m.value);
      return { what: m.what, folder: file, load: () => checkSafetensors(readSafetensors(file)) };
    },
  };
}

/** One tensor entry's dtype, shape or data_offsets set to a value a careless or hostile writer might put there. */
function mutateTensorEntry(rng: Rng, header: Record<string, unknown>, secret: string): Mutated<Record<string, unknown>> {
  const copy = JSON.parse(JSON.stringify(header)) as Record<string, Record<string, unknown>>;
  const names = Object.keys(copy).filter((k) => k !== '__metadata__');
  const name = pick(rng, names);
  const entry = copy[name]!;
  const field = pick(rng, ['dtype', 'shape', 'data_offsets', 'data_offsets', 'shape', 'extra']);
  let value: unknown;
  if (field === 'dtype') value = pick(rng, ['F32', 'F64', 'F16', 'BF16', 'I32', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'f32', '', 'F32 ', '__proto__']);
  else if (field === 'shape') {
    const shapes: unknown[] = [[2 ** 31, 2 ** 31], [2 ** 53, 0], [0, 1e300], [1e300, 1e300, 0], [4294967295, 4294967295, 4294967295], [2 ** 32 + 1], Array.from({ length: 1000 }, () => 1), Array.from({ length: 70 }, () => 2), [-0], [3, -4]];
    value = rng.uniform() < 0.7 ? pick(rng, shapes) : oddValue(rng, secret).value;
  } else if (field === 'data_offsets') {
    const [b, e] = (entry['data_offsets'] as [number, number] | undefined) ?? [0, 0];
    value = pick(rng, [[e, b], [b, e + 4], [b + 4, e + 4], [b - 4, e - 4], [0, 0], [b, 2 ** 53], [2 ** 53, 2 ** 53 + 4], [b, e, 0], [b], [String(b), e], [b + 0.5, e + 0.5], [-0, e - b], [1e308, 1e308]]);
  } else {
    value = oddValue(rng, secret).value;
  }
  Object.defineProperty(entry, field === 'extra' ? pick(rng, ['__proto__', 'offsets', 'dtype ']) : field, { value, enumerable: true, writable: true, configurable: true });
  return { value: copy, what: `${name}.${field} = ${JSON.stringify(value)?.slice(0, 60)}` };
}

function checkSafetensors(file: { tensors: Record<string, Tensor>; metadata: Record<string, string> }): string | null {
  if (Object.getPrototypeOf(file.tensors) !== Object.prototype || Object.getPrototypeOf(file.metadata) !== Object.prototype) return 'a result with another prototype';
  if (({} as Record<string, unknown>)['polluted'] !== undefined) return 'Object.prototype was polluted';
  for (const [k, v] of Object.entries(file.metadata)) if (typeof v !== 'string') return `metadata '${k}' is a ${typeof v}`;
  for (const [name, t] of Object.entries(file.tensors)) {
    if (!(t instanceof Tensor)) return `'${name}' is not a Tensor`;
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return `'${name}' has shape [${t.shape.join(',')}]`;
    if (t.toArray().length !== t.shape.reduce((a, b) => a * b, 1)) return `'${name}' holds ${t.toArray().length} elements for shape [${t.shape.join(',')}]`;
  }
  // What was read writes back and reads again to the same tensors (the header said what the bytes hold).
  const again = parseAgain(file.tensors);
  for (const [name, t] of Object.entries(file.tensors)) {
    const a = t.toArray();
    const b = again[name]?.toArray();
    if (!b || b.length !== a.length || a.some((v, i) => !Object.is(v, b[i]))) return `'${name}' does not survive a write and a read`;
  }
  return null;
}

function parseAgain(tensors: Record<string, Tensor>): Record<string, Tensor> {
  return decodeSafetensors(encodeSafetensors(tensors)).tensors;
}

// ---------------------------------------------------------------------------------------------- CSV

interface Table {
  columns: string[];
  rows: number[][];
}

function randomTable(rng: Rng): Table {
  const cols = 1 + rng.int(5);
  const columns = Array.from({ length: cols }, (_, c) => pick(rng, ['x', 'y', 'target', 'a b', 'col,1', 'q"uote', 'größe', 'ユ', '__proto__', 'constructor']) + c);
  const rows = Array.from({ length: 1 + rng.int(12) }, () =>
    Array.from({ length: cols }, () => pick(rng, [0, 1, -1, 0.5, -0.25, 1e-7, 123456789, 3.14159, -2.5e10, rng.normal(), Math.round(rng.normal() * 100)])),
  );
  return { columns, rows };
}

/** `v` written in one of the spellings a CSV writer uses for the same number. */
function spell(rng: Rng, v: number): string {
  const plain = String(v);
  switch (rng.int(6)) {
    case 0:
      return v.toExponential();
    case 1:
      return v >= 0 && rng.uniform() < 0.5 ? `+${plain}` : plain;
    case 2:
      return Number.isInteger(v) && Math.abs(v) < 1e6 ? `${v}.0` : plain;
    case 3:
      return Math.abs(v) < 1 && v !== 0 && !plain.includes('e') ? plain.replace(/^(-?)0\./, '$1.') : plain;
    default:
      return plain;
  }
}

const quoteCell = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const needsQuotes = (s: string): boolean => /[",\r\n]/.test(s) || s !== s.trim();

/** The table as CSV text in one of many equivalent formattings. */
function writeCsv(rng: Rng, t: Table): string {
  const eols = pick(rng, [['\n'], ['\r\n'], ['\n', '\r\n']]);
  const eol = (): string => pick(rng, eols);
  const pad = (s: string): string => (rng.uniform() < 0.15 ? ` ${s}\t` : s);
  const cell = (s: string, quote: boolean): string => (quote || needsQuotes(s) ? quoteCell(s) : pad(s));
  const quoteAll = rng.uniform() < 0.2;
  let text = rng.uniform() < 0.2 ? '\uFEFF' : '';
  text += t.columns.map((c) => cell(c, quoteAll || rng.uniform() < 0.1)).join(',') + eol();
  for (const row of t.rows) {
    while (rng.uniform() < 0.1) text += eol();
    text += row.map((v) => cell(spell(rng, v), quoteAll || rng.uniform() < 0.1)).join(',') + eol();
  }
  if (rng.uniform() < 0.3) text = text.replace(/(\r\n|\n)$/, '');
  return text;
}

function csvFuzzer(work: string): ReaderFuzzer {
  const folder = join(work, 'case');
  fs.mkdirSync(folder, { recursive: true });
  const file = join(folder, 'data.csv');
  const encoder = new TextEncoder();
  return {
    named: (e) => e instanceof CsvFormatError,
    prepare: (rng) => {
      const table = randomTable(rng);
      const text = writeCsv(rng, table);
      const kind = rng.uniform();
      let bytes: Uint8Array;
      let what: string;
      let check: (loaded: ReturnType<typeof readNumericCsv> | null, error: Error | null) => string | null;
      if (kind < 0.2) {
        // the same table however it is formatted: it must load exactly
        bytes = encoder.encode(text);
        what = `equivalent formatting of ${table.columns.length} × ${table.rows.length}`;
        check = (loaded, error) => (error ? `rejected: ${error.message}` : sameTable(loaded!, table));
      } else if (kind < 0.45) {
        // one bad cell at a known place: a named error that says where
        const r = rng.int(table.rows.length);
        const c = rng.int(table.columns.length);
        // in a one-column table an empty (or blank) cell is a blank line, which the reader skips (documented)
        const wide = table.columns.length > 1;
        const bad = pick(rng, [wide ? '' : 'x', wide ? ' ' : 'y', 'NaN', 'nan', 'Infinity', '-Infinity', 'inf', '1e400', '-1e999', '0x10', '0b101', '0o17', '1_000', '1,5', 'abc', '١٢', '1.2.3', '--1', '1e', 'e5', '.', '+', 'true', 'null', '"']);
        const rows = table.rows.map((row) => row.map((v) => String(v)));
        rows[r]![c] = bad;
        const quoted = bad.includes(',') || bad.includes('"') ? bad.replace(/.*/s, quoteCell) : bad;
        const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
        const header = lines[0]!;
        // rebuild plainly (LF, no blank lines except one before the bad row) so the expected line is known
        const blank = rng.int(3);
        const body = rows.map((row, i) => (i === r ? '\n'.repeat(blank) : '') + row.map((v, j) => (i === r && j === c ? quoted : v)).join(','));
        bytes = encoder.encode([header, ...body].join('\n') + '\n');
        const line = 2 + r + blank;
        what = `cell line ${line}, column ${c + 1} = ${JSON.stringify(bad)}`;
        check = (loaded, error) => {
          if (!error) return `loaded ${JSON.stringify(bad)} as ${loaded!.values[r * table.columns.length + c]}`;
          return error.message.includes(`line ${line}, column '`) ? null : `the error names the wrong place: ${error.message}`;
        };
      } else {
        const m = hostileCsv(rng, text, table);
        bytes = m.value;
        what = m.what;
        check = (loaded, error) => (error ? null : consistentTable(loaded!));
      }
      fs.writeFileSync(file, bytes);
      return {
        what,
        folder: file,
        load: () => {
          let loaded: ReturnType<typeof readNumericCsv> | null = null;
          let error: Error | null = null;
          try {
            loaded = readNumericCsv(file);
          } catch (e) {
            if (!(e instanceof CsvFormatError)) throw e;
            error = e;
          }
          const problem = check(loaded, error);
          if (problem) return problem;
          if (error) throw error;
          return null;
        },
      };
    },
  };
}

function hostileCsv(rng: Rng, text: string, t: Table): Mutated<Uint8Array> {
  const enc = (s: string, what: string): Mutated<Uint8Array> => ({ value: new TextEncoder().encode(s), what });
  const lines = text.split('\n');
  switch (rng.int(10)) {
    case 0: {
      const i = 1 + rng.int(Math.max(1, lines.length - 1));
      lines[i] = (lines[i] ?? '') + pick(rng, [',', ',1', ',,', '']);
      return enc(lines.join('\n'), `ragged line ${i + 1}`);
    }
    case 1: {
      const q = pick(rng, ['"', '"1', '1"', '"1"2', '""', '"""', '"a""b"', '"1\n2"', '" 1 "', '\\"1\\"']);
      const i = rng.int(lines.length);
      lines[i] = q + ',' + (lines[i] ?? '');
      return enc(lines.join('\n'), `odd quoting ${JSON.stringify(q)} at line ${i + 1}`);
    }
    case 2: {
      const n = pick(rng, [10_000, 100_000, 100_000, 1_000_000]);
      const big = pick(rng, ['9'.repeat(n), '1,'.repeat(n / 2) + '1', '"' + 'x'.repeat(n) + '"', ' '.repeat(n) + '1', '1'.repeat(n) + 'e-' + '9'.repeat(3)]);
      const i = 1 + rng.int(Math.max(1, lines.length - 1));
      lines[i] = big;
      return enc(lines.join('\n'), `huge line ${i + 1} (${big.length} characters)`);
    }
    case 3:
      return enc(text.replace(/\n/g, () => pick(rng, ['\n', '\r\n', '\r', '\n\r', '\r\r\n'])), 'mixed and lone CR line ends');
    case 4:
      return enc(pick(rng, ['', '\uFEFF', '\n', '\r\n\r\n', ',', '"', 'a', 'a\n', 'a,a\n1,2\n', ',b\n1,2\n', '\uFEFF\uFEFFa\n1\n', 'a\n\uFEFF1\n', 'a\u0000b\n1\n', 'a\n1\u0000\n']), 'a tiny file');
    case 5: {
      // a header with as many columns as the rows but names that clash, are empty or are only spaces
      const names = t.columns.map((c, i) => (i === 0 ? pick(rng, ['', ' ', '""', t.columns[t.columns.length - 1]!, c]) : c));
      lines[0] = names.join(',');
      return enc(lines.join('\n'), `header ${JSON.stringify(names)}`);
    }
    case 6: {
      const sep = pick(rng, [';', '\t', ' ', '|']);
      return enc(text.replace(/,/g, sep), `separator ${JSON.stringify(sep)}`);
    }
    case 7: {
      const rows = 1 + rng.int(3);
      const cols = pick(rng, [1, 1000, 20_000]);
      const row = Array.from({ length: cols }, (_, i) => String(i)).join(',');
      return enc([Array.from({ length: cols }, (_, i) => `c${i}`).join(','), ...Array.from({ length: rows }, () => row)].join('\n'), `${cols} columns`);
    }
    default: {
      const m = mutateBytes(rng, new TextEncoder().encode(text));
      return { value: m.value, what: `bytes: ${m.what}` };
    }
  }
}

function sameTable(loaded: ReturnType<typeof readNumericCsv>, t: Table): string | null {
  if (JSON.stringify(loaded.columns) !== JSON.stringify(t.columns)) return `columns ${JSON.stringify(loaded.columns)}, wrote ${JSON.stringify(t.columns)}`;
  if (loaded.rows !== t.rows.length) return `${loaded.rows} rows, wrote ${t.rows.length}`;
  const want = t.rows.flat();
  const bad = want.findIndex((v, i) => !Object.is(v, loaded.values[i]) && !(v === 0 && loaded.values[i] === 0));
  return bad < 0 ? null : `value ${bad} is ${loaded.values[bad]}, wrote ${want[bad]}`;
}

function consistentTable(loaded: ReturnType<typeof readNumericCsv>): string | null {
  if (loaded.rows < 1) return `${loaded.rows} rows`;
  if (loaded.columns.length < 1 || loaded.columns.some((c) => typeof c !== 'string' || c === '')) return `columns ${JSON.stringify(loaded.columns)}`;
  if (new Set(loaded.columns).size !== loaded.columns.length) return `duplicate columns ${JSON.stringify(loaded.columns)}`;
  if (loaded.values.length !== loaded.rows * loaded.columns.length) return `${loaded.values.length} values for ${loaded.rows} × ${loaded.columns.length}`;
  if (!loaded.values.every(Number.isFinite)) return 'a non-finite value';
  return null;
}

export const READER_FUZZERS = { safetensors: safetensorsFuzzer, csv: (work: string) => csvFuzzer(work) };
