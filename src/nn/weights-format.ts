import { allocArray, type DType, type TypedArray } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/creation.js';
import { formatShape, sizeOf } from '../tensor/shape.js';
import { keep } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import type { StateDict } from './module.js';

export const WEIGHTS_FORMAT = 'dselect-k-weights';
export const WEIGHTS_FORMAT_VERSION = 1;

/** One tensor in the binary file: little-endian elements at `byteOffset` (8-byte aligned). */
export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: DType;
  byteOffset: number;
  byteLength: number;
}

/** The JSON half of a saved state dict; the elements live in the binary file it names. */
export interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  version: number;
  /** File name of the binary data, relative to the manifest. */
  binary: string;
  byteLength: number;
  tensors: WeightsManifestEntry[];
  /** CRC-32 of the whole binary file (written by `saveWeights`, checked by `readWeights` when present). */
  crc32?: number;
  /** Free-form JSON the caller attached (model config, epoch, …). */
  meta?: unknown;
}

const BYTES: Record<DType, number> = { float32: 4, float64: 8 };

/** A weights manifest or binary that cannot be loaded; the message names the source and what is wrong. */
export class WeightsFormatError extends Error {
  override readonly name = 'WeightsFormatError';
}

/**
 * A tensor name a state dict can hold: `__proto__` cannot be an ordinary key of a JS object (assigning
 * it sets the prototype instead, and the tensor would vanish silently).
 */
export function checkTensorName(owner: string, name: string): void {
  if (name === '__proto__') throw new WeightsFormatError(`${owner}: tensor name '__proto__' is not allowed (it cannot be a key of a state dict)`);
}

/** Lays the tensors out one after another in one buffer and describes them in a manifest. */
export function encodeTensors(tensors: StateDict, binaryName: string, meta?: unknown): { manifest: WeightsManifest; binary: Uint8Array } {
  const entries: WeightsManifestEntry[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new Error(`encodeTensors: entry '${name}' is not a Tensor`);
    checkTensorName('encodeTensors', name);
    offset = align8(offset);
    const byteLength = t.size * BYTES[t.dtype];
    entries.push({ name, shape: [...t.shape], dtype: t.dtype, byteOffset: offset, byteLength });
    offset += byteLength;
  }
  const binary = new Uint8Array(offset);
  Object.values(tensors).forEach((t, i) => {
    const data = t.storage.readSync();
    binary.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), entries[i]!.byteOffset);
  });
  const manifest: WeightsManifest = { format: WEIGHTS_FORMAT, version: WEIGHTS_FORMAT_VERSION, binary: binaryName, byteLength: offset, tensors: entries };
  if (meta !== undefined) manifest.meta = meta;
  return { manifest, binary };
}

/** Checks a parsed manifest against its binary data and rebuilds the tensors (fresh copies). */
export function decodeTensors(manifest: unknown, binary: Uint8Array, source = 'weights'): StateDict {
  const m = checkWeightsManifest(manifest, source);
  if (binary.byteLength !== m.byteLength) {
    throw new WeightsFormatError(`${source}: binary file holds ${binary.byteLength} bytes but the manifest declares ${m.byteLength} (truncated or mismatched file)`);
  }
  const out: StateDict = {};
  for (const e of m.tensors) {
    const data: TypedArray = allocArray(e.dtype, sizeOf(e.shape));
    new Uint8Array(data.buffer).set(binary.subarray(e.byteOffset, e.byteOffset + e.byteLength));
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) throw new WeightsFormatError(`${source}: tensor '${e.name}' holds a non-finite value at element ${i}`);
    }
    out[e.name] = keep(fromTypedArray(data, e.shape));
  }
  return out;
}

/** Checks everything a manifest says about itself (no binary needed); every problem is a WeightsFormatError. */
export function checkWeightsManifest(value: unknown, source: string): WeightsManifest {
  const fail = (why: string): never => {
    throw new WeightsFormatError(`${source}: invalid weights manifest: ${why}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`not a JSON object (got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`);
  const m = value as Partial<WeightsManifest>;
  if (m.format !== WEIGHTS_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected '${WEIGHTS_FORMAT}'`);
  if (m.version !== WEIGHTS_FORMAT_VERSION) fail(`version ${JSON.stringify(m.version)} is not supported (expected ${WEIGHTS_FORMAT_VERSION})`);
  if (typeof m.binary !== 'string' || m.binary.length === 0) fail('missing binary file name');
  if (!Number.isSafeInteger(m.byteLength) || m.byteLength! < 0) fail(`byteLength ${JSON.stringify(m.byteLength)} is not a non-negative integer`);
  if (!Array.isArray(m.tensors)) fail('tensors is not an array');
  if (m.crc32 !== undefined && !(Number.isInteger(m.crc32) && m.crc32 >= 0 && m.crc32 <= 0xffffffff)) fail(`crc32 ${JSON.stringify(m.crc32)} is not a 32-bit unsigned integer`);
  const seen = new Set<string>();
  for (const [i, e] of m.tensors!.entries()) {
    const where = `tensors[${i}]`;
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string') fail(`${where} has no name`);
    const label = `tensor '${e.name}'`;
    if (e.name === '__proto__') fail(`${label} is not allowed (it cannot be a key of a state dict)`);
    if (seen.has(e.name)) fail(`${label} appears twice`);
    seen.add(e.name);
    if (e.dtype !== 'float32' && e.dtype !== 'float64') fail(`${label} has unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`${label} has an invalid shape ${JSON.stringify(e.shape)}`);
    const expected = sizeOf(e.shape) * BYTES[e.dtype];
    if (!Number.isSafeInteger(expected)) fail(`${label} ${formatShape(e.shape)} is too large (${expected} bytes)`);
    if (e.byteLength !== expected) fail(`${label} ${formatShape(e.shape)} ${e.dtype} needs ${expected} bytes, manifest says ${JSON.stringify(e.byteLength)}`);
    if (!Number.isSafeInteger(e.byteOffset) || e.byteOffset < 0) fail(`${label} has byteOffset ${JSON.stringify(e.byteOffset)}, expected a non-negative integer`);
    if (e.byteOffset % 8 !== 0) fail(`${label} has byteOffset ${e.byteOffset}, which is not a multiple of 8 (tensors are 8-byte aligned)`);
    if (e.byteOffset + e.byteLength > m.byteLength!) {
      fail(`${label} byte range [${e.byteOffset}, ${e.byteOffset + e.byteLength}) lies outside the ${m.byteLength}-byte binary`);
    }
  }
  return m as WeightsManifest;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
