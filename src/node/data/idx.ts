import type { LabelledImages } from '../../data/types.js';
import { readFileSync, statSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

/**
 * IDX files (the MNIST / Fashion-MNIST container): magic `00 00 <type> <ndims>`, ndims big-endian
 * uint32 dimensions, then the elements row-major. Files may be gzipped; that is detected from the
 * gzip magic bytes `1f 8b`, not from the file name.
 */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** A bad IDX file: names the file and, where one is known, the byte offset where things went wrong. */
export class IdxFormatError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'IdxFormatError';
  }
}

export const IDX_UNSIGNED_BYTE = 0x08;

const IDX_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

export interface IdxReadOptions {
  /**
   * Largest decoded file (header + data) accepted, in bytes (default 1 GiB; Fashion-MNIST's training
   * images are 47 MB). A gzip stream is never inflated past this, nor past what its header declares.
   */
  maxBytes?: number;
}

export const IDX_DEFAULT_MAX_BYTES = 2 ** 30;

/** Reads an IDX file of unsigned bytes, gunzipping it first when it starts with the gzip magic. */
export function readIdx(file: string, opts: IdxReadOptions = {}): IdxArray {
  const maxBytes = checkMaxBytes(opts.maxBytes);
  let raw: Uint8Array;
  try {
    const size = statSync(file).size;
    // A gzip file of data that does not compress may be a little longer than the data itself.
    if (size > maxBytes + 65536) throw new IdxFormatError(file, null, `idx: ${file}: the file is ${size} bytes, more than the ${maxBytes} accepted (maxBytes)`);
    raw = readFileSync(file);
  } catch (err) {
    if (err instanceof IdxFormatError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IdxFormatError(file, null, `idx: ${file}: file not found`);
    throw new IdxFormatError(file, null, `idx: ${file}: cannot read (${(err as Error).message})`);
  }
  return decodeIdx(raw, file, opts);
}

/** Decodes IDX bytes (plain or gzipped); `file` only labels the errors. */
export function decodeIdx(bytes: Uint8Array, file = '<bytes>', opts: IdxReadOptions = {}): IdxArray {
  const maxBytes = checkMaxBytes(opts.maxBytes);
  if (!isGzip(bytes)) return parseIdx(bytes, file, '');
  return parseIdx(gunzipIdx(bytes, file, maxBytes), file, ' (decompressed)');
}

function checkMaxBytes(value: number | undefined): number {
  const maxBytes = value ?? IDX_DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 5) throw new Error(`idx: maxBytes must be an integer ≥ 5, got ${String(value)}`);
  return maxBytes;
}

/** Largest IDX header: magic and 255 big-endian uint32 dims. */
const MAX_HEADER = 4 + 4 * 255;
/** Output cap while looking for the header: above any header, far below a bomb. */
const HEADER_PROBE_CAP = 64 * 1024;

/**
 * Inflates a gzipped IDX file without trusting it: first just enough to read the header, then the
 * whole stream capped at the size that header declares (and at `maxBytes`), so a gzip bomb costs at
 * most the declared size in memory.
 */
function gunzipIdx(bytes: Uint8Array, file: string, maxBytes: number): Uint8Array {
  const head = inflateHeader(bytes);
  const declared = declaredIdxLength(head);
  if (declared !== null && declared > maxBytes) {
    throw new IdxFormatError(file, null, `idx: ${file}: the header declares ${declared} bytes of decompressed data, more than the ${maxBytes} accepted (maxBytes)`);
  }
  const cap = declared ?? MAX_HEADER;
  try {
    return gunzipSync(bytes, { maxOutputLength: cap });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      const what = declared === null ? `more than ${cap} bytes without a complete header` : `past the ${declared} bytes its header declares`;
      throw new IdxFormatError(file, null, `idx: ${file}: the gzip stream inflates ${what}; stopped there (a gzip bomb or a lying header)`);
    }
    if (code !== 'Z_BUF_ERROR') {
      throw new IdxFormatError(file, null, `idx: ${file}: corrupt gzip stream (zlib: ${(err as Error).message})`);
    }
    // The stream ended early: decompress what is there to say how far the IDX data got.
    const partial = inflatePartial(bytes, cap) ?? new Uint8Array(0);
    const need = declared === null ? '' : ` of the ${declared} its header declares`;
    throw new IdxFormatError(
      file,
      bytes.length,
      `idx: ${file}: truncated gzip stream: the file ends at byte offset ${bytes.length} before the stream is complete; ` +
        `decompressed data ran out at byte offset ${partial.length}${need}`,
    );
  }
}

/**
 * The first bytes of the decompressed stream, at least the whole header where the stream holds one.
 * Prefixes of the compressed bytes are inflated, each capped at 64 KiB of output: a prefix that would
 * give more is bisected toward the last one that gave too little (one compressed byte inflates to at
 * most about 2 KiB, so the search ends with a prefix whose output holds the header).
 */
function inflateHeader(bytes: Uint8Array): Uint8Array {
  let low = 0; // a prefix length whose output was too short (or 0)
  let high = -1; // a prefix length whose output passed the cap or was corrupt (-1: none yet)
  let best: Uint8Array = new Uint8Array(0);
  for (let n = Math.min(bytes.length, 256); ; ) {
    const out = inflatePartial(bytes.subarray(0, n), HEADER_PROBE_CAP);
    if (out === null) {
      high = n;
    } else {
      best = out;
      if (out.length >= headerLengthOf(out) || n === bytes.length) return out;
      low = n;
    }
    const next = high < 0 ? Math.min(bytes.length, n * 4) : Math.floor((low + high) / 2);
    // No header within reach (a corrupt or empty stream): the full inflate below says what is wrong.
    if (next <= low) return best;
    n = next;
  }
}

/** Bytes a header needs once its first 4 are known (4 until then). */
function headerLengthOf(head: Uint8Array): number {
  return head.length < 4 ? 4 : 4 + 4 * head[3]!;
}

/** Inflates a possibly incomplete gzip stream as far as it goes; null when that is more than `cap` bytes or it is corrupt. */
function inflatePartial(bytes: Uint8Array, cap: number): Uint8Array | null {
  try {
    return gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: cap });
  } catch {
    return null;
  }
}

/** Total byte length an IDX header declares, or null when the header itself is incomplete. */
function declaredIdxLength(bytes: Uint8Array): number | null {
  if (bytes.length < 4) return null;
  const ndims = bytes[3]!;
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 1;
  for (let i = 0; i < ndims; i++) count *= view.getUint32(4 + 4 * i, false);
  return headerLength + count;
}

function hexBytes(bytes: Uint8Array, from: number, to: number): string {
  return Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function parseIdx(bytes: Uint8Array, file: string, note: string): IdxArray {
  const where = `idx: ${file}${note}`;
  if (bytes.length < 4) {
    throw new IdxFormatError(file, bytes.length, `${where}: truncated: data ran out at byte offset ${bytes.length} inside the 4-byte magic`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(
      file,
      0,
      `${where}: wrong magic at byte offset 0: found ${hexBytes(bytes, 0, 4)}, expected 00 00 <type code> <ndims>`,
    );
  }
  const typeCode = bytes[2]!;
  if (typeCode !== IDX_UNSIGNED_BYTE) {
    const typeName = IDX_TYPE_NAMES[typeCode] ?? 'unknown';
    throw new IdxFormatError(
      file,
      2,
      `${where}: unsupported type code 0x${typeCode.toString(16).padStart(2, '0')} (${typeName}) at byte offset 2; ` +
        `only 0x08 (unsigned byte) is supported`,
    );
  }
  const ndims = bytes[3]!;
  if (ndims === 0) throw new IdxFormatError(file, 3, `${where}: ndims is 0 at byte offset 3; expected at least one dimension`);
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new IdxFormatError(
      file,
      bytes.length,
      `${where}: truncated: data ran out at byte offset ${bytes.length} inside the header, which needs ${headerLength} bytes for ${ndims} dims`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerLength + count;
  if (bytes.length < expected) {
    throw new IdxFormatError(
      file,
      bytes.length,
      `${where}: truncated: data ran out at byte offset ${bytes.length}; dims [${dims.join(', ')}] need ${expected} bytes ` +
        `(${headerLength}-byte header + ${count} data bytes)`,
    );
  }
  if (bytes.length > expected) {
    throw new IdxFormatError(
      file,
      expected,
      `${where}: dims/size mismatch: dims [${dims.join(', ')}] need ${expected} bytes but there are ${bytes.length} ` +
        `(${bytes.length - expected} extra bytes from byte offset ${expected})`,
    );
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerLength, count) };
}

/** Encodes unsigned bytes as an (uncompressed) IDX file; the inverse of `decodeIdx`. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length === 0 || dims.length > 255) throw new Error(`encodeIdx: expected 1..255 dims, got ${dims.length}`);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new Error(`encodeIdx: bad dim ${d} in [${dims.join(', ')}]`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeIdx: dims [${dims.join(', ')}] hold ${count} elements, data has ${data.length}`);
  const headerLength = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLength + count);
  out[2] = IDX_UNSIGNED_BYTE;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerLength);
  return out;
}

/**
 * Labelled greyscale images, row-major `[count, height, width]`, pixels in [0, 1]. The decoded form
 * of an IDX image + label file pair, and what every image loader in `data/` returns.
 */

export interface ImageCheck {
  name: string;
  imagesFile: string;
  labelsFile: string;
  height: number;
  width: number;
  numClasses: number;
}

const BYTE_TO_UNIT = (() => {
  const table = new Float32Array(256);
  for (let i = 0; i < 256; i++) table[i] = i / 255;
  return table;
})();

/** Checks an IDX image/label pair against the expected image size and classes, scaling pixels to [0, 1]. */
export function labelledImagesFromIdx(images: IdxArray, labels: IdxArray, check: ImageCheck): LabelledImages {
  const { name, imagesFile, labelsFile, height, width, numClasses } = check;
  if (images.dims.length !== 3 || images.dims[1] !== height || images.dims[2] !== width) {
    throw new Error(`${name}: ${imagesFile}: images have shape [${images.dims.join(', ')}], expected [N, ${height}, ${width}]`);
  }
  const count = images.dims[0]!;
  if (labels.dims.length !== 1 || labels.dims[0] !== count) {
    throw new Error(`${name}: ${labelsFile}: labels have shape [${labels.dims.join(', ')}], expected [${count}] to match ${imagesFile}`);
  }
  const labelValues = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i]!;
    if (label >= numClasses) throw new Error(`${name}: ${labelsFile}: label ${label} at index ${i} is not a class in 0..${numClasses - 1}`);
    labelValues[i] = label;
  }
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = BYTE_TO_UNIT[images.data[i]!]!;
  return { name, images: pixels, shape: [count, height, width], labels: labelValues, numClasses };
}
