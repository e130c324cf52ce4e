import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An append-only ledger of JSON records, one per line (JSON Lines), that survives being killed at any
 * moment. Each append is one write(2) of a whole line on a file opened O_APPEND, followed by fsync. A
 * writer killed in the middle of a line leaves a torn last line without its newline: readers ignore it
 * (it was never acknowledged) and the next append cuts it off first. Complete lines are never rewritten.
 * One writer per ledger is assumed (the reproduce commands run one process per output folder).
 */

/** Any problem with a ledger file; the message names the file and the line. */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';
}

export interface LedgerContents {
  /** Every complete line, parsed, in file order. */
  records: unknown[];
  /** Bytes of a torn last line (a write that was cut off), 0 when the file ends cleanly. */
  tornBytes: number;
}

/** Reads every complete record; a missing file is an empty ledger. A complete line that is not JSON is an error. */
export function readLedger(path: string): LedgerContents {
  if (!existsSync(path)) return { records: [], tornBytes: 0 };
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const records: unknown[] = [];
  let lineNumber = 0;
  for (const line of text.slice(0, end).split('\n').slice(0, -1)) {
    lineNumber++;
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch (e) {
      throw new LedgerError(`ledger ${path}: line ${lineNumber} is not valid JSON (${(e as Error).message}); the file was edited or damaged — remove that line to continue`);
    }
  }
  return { records, tornBytes: Buffer.byteLength(text.slice(end), 'utf8') };
}

/** Appends one record as one line (and first cuts off a torn last line left by a killed writer). */
export function appendLedger(path: string, record: unknown): void {
  const line = JSON.stringify(record);
  if (line === undefined || line.includes('\n')) throw new LedgerError(`ledger ${path}: a record must serialise to one line of JSON`);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a+');
  try {
    cutTornTail(fd);
    const bytes = Buffer.from(line + '\n', 'utf8');
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function cutTornTail(fd: number): void {
  const size = fstatSync(fd).size;
  if (size === 0) return;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] === 0x0a) return;
  // Find the last newline; everything after it is the torn line.
  const chunk = Buffer.alloc(Math.min(size, 1 << 16));
  let position = size;
  while (position > 0) {
    const start = Math.max(0, position - chunk.byteLength);
    const length = position - start;
    readSync(fd, chunk, 0, length, start);
    const at = chunk.subarray(0, length).lastIndexOf(0x0a);
    if (at >= 0) {
      ftruncateSync(fd, start + at + 1);
      return;
    }
    position = start;
  }
  ftruncateSync(fd, 0);
}
