import { allocArray, type DType } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import { formatShape, sizeOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { StateDict } from './module.js';

/**
 * The safetensors format (Hugging Face; read by PyTorch, JAX, TensorFlow and the HF tools):
 *   8 bytes      N, the header's length (uint64, little endian)
 *   N bytes      UTF-8 JSON: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { string: string } },
 *                padded with spaces so the data starts 8-byte aligned
 *   data         every tensor's elements, little endian, back to back (offsets relative to here)
 * Written: F32 and F64. Read: F32, F64, and F16 / BF16 (widened to float32).
 */
export const SAFETENSORS_DTYPES: Record<DType, string> = { float32: 'F32', float64: 'F64' };
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
/** A file that is not valid safetensors: the message names the file and what is wrong. */
export class SafetensorsFormatError extends Error {
  override readonly name = 'SafetensorsFormatError';
}

/** Header larger than this is refused (as the reference implementation does: 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** The file's bytes for `tensors`, with optional string metadata. */
export function encodeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`encodeSafetensors: metadata '${key}' must be a string, got ${typeof value}`);
  }
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (!(t instanceof Tensor)) throw new Error(`encodeSafetensors: entry '${name}' is not a Tensor`);
    if (name === '__metadata__') throw new Error("encodeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    return { name, t };
  });
  // The reference writer's order: larger elements first (keeps every tensor aligned), then by name.
  entries.sort((a, b) => BYTES[SAFETENSORS_DTYPES[b.t.dtype]]! - BYTES[SAFETENSORS_DTYPES[a.t.dtype]]! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const { name, t } of entries) {
    const length = t.size * BYTES[SAFETENSORS_DTYPES[t.dtype]]!;
    header[name] = { dtype: SAFETENSORS_DTYPES[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;
  if (padded !== json.byteLength) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const { t } of entries) {
    const data = t.storage.readSync();
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/** Parses and checks a safetensors file; every problem names `source` and what is wrong. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: StateDict; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new SafetensorsFormatError(`${source}: not a valid safetensors file: ${why}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) fail(`header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file`);
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    return fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  const tensors: StateDict = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    // Assigning '__proto__' would set the state dict's prototype: the tensor would vanish silently.
    if (name === '__proto__') fail("tensor name '__proto__' is not allowed (it cannot be a key of a state dict)");
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}' is not an object`);
    const width = typeof e.dtype === 'string' ? BYTES[e.dtype] : undefined;
    if (width === undefined) fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)} (readable: ${Object.keys(BYTES).join(', ')})`);
    // Safe integers only: 1e300 is an integer to JavaScript, and [0, 1e300] holds no elements, so no size check would catch it.
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const shape = e.shape as number[];
    if (end - begin !== sizeOf(shape) * width!) fail(`tensor '${name}' ${formatShape(shape)} ${String(e.dtype)} needs ${sizeOf(shape) * width!} bytes, data_offsets span ${end - begin}`);
    if (end > data.byteLength) fail(`tensor '${name}' ends at byte ${end} of a ${data.byteLength}-byte data section (truncated file?)`);
    ranges.push([begin, end, name]);
    tensors[name] = keep(fromTypedArray(readElements(data.subarray(begin, end), e.dtype as string), shape));
  }
  // As the reference reader: the tensors tile the data section, without holes or overlaps.
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (const [begin, end, name] of ranges) {
    if (begin !== covered) fail(`tensor '${name}' starts at byte ${begin} but the previous one ends at ${covered} (hole or overlap)`);
    covered = end;
  }
  if (covered !== data.byteLength) fail(`the tensors cover ${covered} of the ${data.byteLength} data bytes`);
  return { tensors, metadata };
}

function readElements(bytes: Uint8Array, dtype: string): Float32Array | Float64Array {
  const copy = bytes.slice(); // aligned, owned
  if (dtype === 'F32') return new Float32Array(copy.buffer);
  if (dtype === 'F64') return new Float64Array(copy.buffer);
  const halves = new Uint16Array(copy.buffer);
  const out = allocArray('float32', halves.length) as Float32Array;
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < halves.length; i++) {
    const h = halves[i]!;
    if (dtype === 'BF16') {
      bits[0] = h << 16;
      out[i] = asFloat[0]!;
    } else {
      out[i] = halfToFloat(h);
    }
  }
  return out;
}

/** IEEE 754 binary16 → number (subnormals, infinities and NaN included). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
