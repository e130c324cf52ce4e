import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import type { StateDict } from '../nn/module.js';
import { decodeTensors, encodeTensors, type WeightsManifest } from '../nn/weights-format.js';
import type { OptimizerState } from '../optim/optimizer.js';
import { writeFileAtomic, type AtomicWriteFaults } from './atomic-write.js';

/**
 * A training checkpoint is ONE file, so that it can be replaced atomically:
 *
 *   bytes 0..7    magic "DSKCKPT\n"
 *   bytes 8..11   header length H (uint32, little endian)
 *   12..12+H      UTF-8 JSON header: format, version, config, epoch, RNG states, history, the
 *                 optimiser's hyperparameters and step counts, a tensor manifest, CRC-32 of the data
 *   (padding to a multiple of 8)
 *   data          every tensor (model parameters, optimiser slots), little endian
 */
export const CHECKPOINT_FILE = 'checkpoint.dsk';
const MAGIC = new TextEncoder().encode('DSKCKPT\n');
const FORMAT = 'dselect-k-checkpoint';
const VERSION = 1;
const MODEL_PREFIX = 'model/';
const SLOT_PREFIX = 'optim/';

export interface CheckpointContents<Config, Extra> {
  config: Config;
  /** Completed epochs. */
  epoch: number;
  model: StateDict;
  optimizer: OptimizerState;
  /** Everything else needed to continue exactly (RNG states, metric history, …), plain JSON. */
  extra: Extra;
}

interface Header {
  format: typeof FORMAT;
  version: number;
  config: unknown;
  epoch: number;
  extra: unknown;
  optimizer: Omit<OptimizerState, 'slots'>;
  tensors: WeightsManifest;
  dataCrc32: number;
}

export class CheckpointError extends Error {}

export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
}

export function encodeCheckpoint<C, E>(contents: CheckpointContents<C, E>): Uint8Array[] {
  const tensors: StateDict = {};
  for (const [name, t] of Object.entries(contents.model)) tensors[MODEL_PREFIX + name] = t;
  for (const [name, t] of Object.entries(contents.optimizer.slots)) tensors[SLOT_PREFIX + name] = t;
  const { manifest, binary } = encodeTensors(tensors, '(inline)');
  const { slots: _slots, ...optimizer } = contents.optimizer;
  const header: Header = {
    format: FORMAT,
    version: VERSION,
    config: contents.config,
    epoch: contents.epoch,
    extra: contents.extra,
    optimizer,
    tensors: manifest,
    dataCrc32: crc32(binary),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(12);
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(8, headerBytes.byteLength, true);
  const padding = new Uint8Array((8 - ((12 + headerBytes.byteLength) % 8)) % 8);
  return [prefix, headerBytes, padding, binary];
}

/** Writes the checkpoint atomically: readers see the previous checkpoint or this one, never a mix. */
export function saveCheckpoint<C, E>(dir: string, contents: CheckpointContents<C, E>, faults?: AtomicWriteFaults): string {
  mkdirSync(dir, { recursive: true });
  const path = checkpointPath(dir);
  writeFileAtomic(path, encodeCheckpoint(contents), faults);
  return path;
}

/** Reads and verifies a checkpoint; every problem is a CheckpointError naming the file. */
export function loadCheckpoint(dir: string): CheckpointContents<unknown, unknown> {
  const path = existsSync(dir) && statSync(dir).isFile() ? dir : checkpointPath(dir);
  if (!existsSync(path)) throw new CheckpointError(`no checkpoint at ${path}`);
  const bytes = new Uint8Array(readFileSync(path));
  return decodeCheckpoint(bytes, path);
}

export function decodeCheckpoint(bytes: Uint8Array, source: string): CheckpointContents<unknown, unknown> {
  const corrupt = (why: string): never => {
    throw new CheckpointError(`corrupt checkpoint ${source}: ${why}`);
  };
  if (bytes.byteLength < 12 || !MAGIC.every((b, i) => bytes[i] === b)) corrupt('not a dselect-k checkpoint (bad magic bytes)');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + headerLength > bytes.byteLength) corrupt(`header of ${headerLength} bytes runs past the end of the ${bytes.byteLength}-byte file`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLength))) as Header;
  } catch (e) {
    return corrupt(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || header.format !== FORMAT) corrupt('header does not describe a dselect-k checkpoint');
  if (header.version !== VERSION) corrupt(`version ${String(header.version)} is not supported (expected ${VERSION})`);
  if (!Number.isInteger(header.epoch) || header.epoch < 0) corrupt(`epoch ${String(header.epoch)} is not an integer ≥ 0`);
  const dataStart = 12 + headerLength + ((8 - ((12 + headerLength) % 8)) % 8);
  const data = bytes.subarray(dataStart);
  const declared = header.tensors?.byteLength;
  if (data.byteLength !== declared) corrupt(`holds ${data.byteLength} data bytes but its header declares ${String(declared)} (truncated file?)`);
  if (crc32(data) !== header.dataCrc32) corrupt('data checksum mismatch');
  let tensors: StateDict;
  try {
    tensors = decodeTensors(header.tensors, data, `checkpoint ${source}`);
  } catch (e) {
    return corrupt((e as Error).message);
  }
  const model: StateDict = {};
  const slots: StateDict = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith(MODEL_PREFIX)) model[name.slice(MODEL_PREFIX.length)] = t;
    else if (name.startsWith(SLOT_PREFIX)) slots[name.slice(SLOT_PREFIX.length)] = t;
    else corrupt(`unexpected tensor '${name}'`);
  }
  const opt = header.optimizer;
  if (typeof opt !== 'object' || opt === null || typeof opt.type !== 'string' || !Array.isArray(opt.steps)) corrupt('optimiser state is missing');
  return { config: header.config, epoch: header.epoch, extra: header.extra, model, optimizer: { ...opt, slots } };
}
