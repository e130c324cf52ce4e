import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

/** A CSV file that is not a numeric table with a header row: the message names the file and, where it can, the line and column. */
export class CsvFormatError extends Error {
  override readonly name = 'CsvFormatError';
}

/** A numeric table read from a CSV file with a header row. */
export interface NumericTable {
  columns: string[];
  /** Row-major values [rows × columns]. */
  values: Float64Array;
  rows: number;
  /** The line of the file each data row starts on (blank lines and quoted line breaks make it differ from row + 2). */
  lines: Int32Array;
}

/** A finite decimal number as written in a CSV file: no hex, octal, binary, Infinity or NaN, which Number() would take. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Reads a CSV file with a header row (RFC 4180 quoting, a UTF-8 BOM, CRLF and LF line ends, even mixed,
 * accepted; blank lines skipped) with csv-parse. Every cell must be a finite decimal number; empty cells
 * and text are CsvFormatErrors naming the file, the line and the column.
 */
export function readNumericCsv(path: string): NumericTable {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    // Both line ends at once: csv-parse otherwise takes the first one it meets for the whole file.
    parsed = parse(bytes, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false, info: true, record_delimiter: ['\r\n', '\n'] }) as unknown as typeof parsed;
  } catch (e) {
    throw new CsvFormatError(`${path} is not valid CSV: ${(e as Error).message}`);
  }
  if (parsed.length === 0) throw new CsvFormatError(`${path} is empty (expected a header row and data rows)`);
  const columns = parsed[0]!.record;
  const seen = new Set<string>();
  columns.forEach((name, c) => {
    if (name === '') throw new CsvFormatError(`${path}: column ${c + 1} of the header has no name`);
    if (seen.has(name)) throw new CsvFormatError(`${path}: column '${name}' appears twice in the header`);
    seen.add(name);
  });
  const rows = parsed.length - 1;
  if (rows === 0) throw new CsvFormatError(`${path} has a header but no data rows`);
  const values = new Float64Array(rows * columns.length);
  const lines = startLines(bytes, parsed.slice(0, rows).map((p) => p.info.bytes));
  for (let r = 0; r < rows; r++) {
    const record = parsed[r + 1]!.record;
    for (let c = 0; c < columns.length; c++) {
      const cell = record[c]!;
      const v = DECIMAL.test(cell) ? Number(cell) : NaN;
      if (!Number.isFinite(v)) {
        const line = lines[r]!;
        const what = cell === '' ? 'empty cell' : `${JSON.stringify(cell.length > 40 ? `${cell.slice(0, 40)}…` : cell)} is not a finite decimal number`;
        throw new CsvFormatError(`${path}: line ${line}, column '${columns[c]}': ${what} (every cell must be one)`);
      }
      values[r * columns.length + c] = v;
    }
  }
  return { columns, values, rows, lines };
}

/**
 * For each offset where a record ended (csv-parse's info.bytes, ascending), the line on which the next
 * record starts, blank lines skipped: one pass over the bytes.
 */
function startLines(bytes: Uint8Array, ends: readonly number[]): Int32Array {
  const out = new Int32Array(ends.length);
  let line = 1;
  let at = 0;
  ends.forEach((end, i) => {
    for (; at < end; at++) if (bytes[at] === 0x0a) line++;
    for (; at < bytes.length && (bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x20 || bytes[at] === 0x09); at++) if (bytes[at] === 0x0a) line++;
    out[i] = line;
  });
  return out;
}
