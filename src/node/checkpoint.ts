import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Module, type StateDict } from '../nn/module.js';
import { checkTensorName, decodeTensors, encodeTensors, type WeightsManifest } from '../nn/weights-format.js';
import { Optimizer, type OptimizerState } from '../optim/optimizer.js';
import { writeFileAtomic, type AtomicWriteFaults } from './atomic-write.js';
import { ensureDirectory } from './ensure-dir.js';

/**
 * The one checkpoint format, for the library and the command line: ONE file, so that it can be
 * replaced atomically, with a checksum over every byte.
 *
 *   bytes 0..7     magic "DSKCKPT\n"
 *   bytes 8..11    header length H (uint32, little endian)
 *   12..12+H       UTF-8 JSON header: format, version, meta (free-form JSON: config, epoch, RNG
 *                  states, …), the optimiser's type, hyperparameters and step counts, a tensor manifest
 *   (zero padding to a multiple of 8)
 *   data           every tensor (model parameters, optimiser slots), little endian
 *   last 4 bytes   CRC-32 (uint32, little endian) of every byte before it
 */
export const CHECKPOINT_FILE = 'checkpoint.dsk';
const MAGIC = new TextEncoder().encode('DSKCKPT\n');
const FORMAT = 'dselect-k-checkpoint';
const VERSION = 2;
const PREFIX = 12;
const TRAILER = 4;
const MODEL_PREFIX = 'model/';
const SLOT_PREFIX = 'optim/';

/** What a checkpoint holds. */
export interface Checkpoint {
  model: StateDict;
  /** Optimiser state, or null when none was saved. */
  optimizer: OptimizerState | null;
  /** Free-form JSON saved with it (config, epoch, …); null when none. */
  meta: unknown;
}

/** What `saveCheckpoint` takes: live objects or their state. */
export interface CheckpointSource {
  model: Module | StateDict;
  optimizer?: Optimizer | OptimizerState;
  meta?: unknown;
}

interface Header {
  format: typeof FORMAT;
  version: number;
  meta: unknown;
  optimizer: Omit<OptimizerState, 'slots'> | null;
  tensors: WeightsManifest;
}

/** Any problem with a checkpoint file; the message names the file and what is wrong. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** A path ending in `.dsk` names the file itself; anything else is a folder holding `checkpoint.dsk`. */
export function checkpointPath(target: string): string {
  if (typeof target !== 'string' || target.length === 0) throw new CheckpointError(`checkpoint: path must be a non-empty string, got ${JSON.stringify(target)}`);
  return target.endsWith('.dsk') ? target : join(target, CHECKPOINT_FILE);
}

export function encodeCheckpoint(source: CheckpointSource): Uint8Array[] {
  const model = source.model instanceof Module ? source.model.stateDict() : source.model;
  const optimizer = source.optimizer instanceof Optimizer ? source.optimizer.stateDict() : (source.optimizer ?? null);
  const tensors: StateDict = {};
  for (const [name, t] of Object.entries(model)) {
    checkTensorName('saveCheckpoint', name);
    tensors[MODEL_PREFIX + name] = t;
  }
  for (const [name, t] of Object.entries(optimizer?.slots ?? {})) {
    checkTensorName('saveCheckpoint', name);
    tensors[SLOT_PREFIX + name] = t;
  }
  const { manifest, binary } = encodeTensors(tensors, '(inline)');
  const header: Header = {
    format: FORMAT,
    version: VERSION,
    meta: source.meta ?? null,
    optimizer: optimizer && { type: optimizer.type, hyperparameters: optimizer.hyperparameters, steps: optimizer.steps },
    tensors: manifest,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(PREFIX);
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(8, headerBytes.byteLength, true);
  const padding = new Uint8Array(paddingAfter(headerBytes.byteLength));
  let crc = 0;
  for (const part of [prefix, headerBytes, padding, binary]) crc = crc32(part, crc);
  const trailer = new Uint8Array(TRAILER);
  new DataView(trailer.buffer).setUint32(0, crc, true);
  return [prefix, headerBytes, padding, binary, trailer];
}

function paddingAfter(headerLength: number): number {
  return (8 - ((PREFIX + headerLength) % 8)) % 8;
}

/** Parses and verifies a whole checkpoint; every problem is a CheckpointError naming `source`. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const corrupt = (why: string): never => {
    throw new CheckpointError(`corrupt checkpoint ${source}: ${why}`);
  };
  if (bytes.byteLength < PREFIX + TRAILER || !MAGIC.every((b, i) => bytes[i] === b)) corrupt('not a dselect-k checkpoint (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const body = bytes.subarray(0, bytes.byteLength - TRAILER);
  if (crc32(body) !== view.getUint32(bytes.byteLength - TRAILER, true)) {
    corrupt(`checksum mismatch (${bytes.byteLength} bytes; the file was changed or cut short after it was written)`);
  }
  const headerLength = view.getUint32(8, true);
  if (PREFIX + headerLength > body.byteLength) corrupt(`header of ${headerLength} bytes runs past the end of the file`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength))) as Header;
  } catch (e) {
    return corrupt(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || header.format !== FORMAT) corrupt('header does not describe a dselect-k checkpoint');
  if (header.version !== VERSION) corrupt(`version ${String(header.version)} is not supported (expected ${VERSION})`);
  const opt = header.optimizer;
  if (opt !== null && (typeof opt !== 'object' || typeof opt.type !== 'string' || !Array.isArray(opt.steps) || typeof opt.hyperparameters !== 'object' || opt.hyperparameters === null)) {
    corrupt('optimiser state in the header is malformed');
  }
  const data = body.subarray(PREFIX + headerLength + paddingAfter(headerLength));
  let tensors: StateDict;
  try {
    tensors = decodeTensors(header.tensors, data, `checkpoint ${source}`);
  } catch (e) {
    return corrupt((e as Error).message);
  }
  const model: StateDict = {};
  const slots: StateDict = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name === MODEL_PREFIX + '__proto__' || name === SLOT_PREFIX + '__proto__') corrupt(`tensor name '${name}' is not allowed`);
    if (name.startsWith(MODEL_PREFIX)) model[name.slice(MODEL_PREFIX.length)] = t;
    else if (name.startsWith(SLOT_PREFIX) && opt !== null) slots[name.slice(SLOT_PREFIX.length)] = t;
    else corrupt(`unexpected tensor '${name}'`);
  }
  return { model, optimizer: opt && { ...opt, slots }, meta: header.meta ?? null };
}

/**
 * Writes a checkpoint atomically (temporary file, fsync, rename): readers see the previous
 * checkpoint or this one, never a mix. Returns the file's path.
 */
export function saveCheckpoint(target: string, source: CheckpointSource, faults?: AtomicWriteFaults): string {
  const path = checkpointPath(target);
  ensureDirectory(dirname(path), 'saveCheckpoint');
  writeFileAtomic(path, encodeCheckpoint(source), faults);
  return path;
}

/** Reads and verifies a checkpoint without a model. */
export function readCheckpoint(target: string): Checkpoint {
  const path = isFile(target) ? target : checkpointPath(target);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(code === 'ENOENT' ? `no checkpoint at ${path}` : `cannot read checkpoint ${path}: ${code ?? (e as Error).message}`);
  }
  return decodeCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Restores a checkpoint into `model` (and `optimizer`, when given and saved). Everything is read and
 * checked against both before either is changed: a checkpoint that does not fit leaves them as they were.
 */
export function loadCheckpoint(target: string, model: Module, optimizer?: Optimizer): { meta: unknown; hasOptimizer: boolean } {
  const checkpoint = readCheckpoint(target);
  const restoreOptimizer = optimizer !== undefined && checkpoint.optimizer !== null;
  try {
    model.checkStateDict(checkpoint.model);
    if (restoreOptimizer) optimizer.checkStateDict(checkpoint.optimizer!);
  } catch (e) {
    throw new CheckpointError(`checkpoint ${target} does not fit: ${(e as Error).message}`);
  }
  model.loadStateDict(checkpoint.model);
  if (restoreOptimizer) optimizer.loadStateDict(checkpoint.optimizer!);
  return { meta: checkpoint.meta, hasOptimizer: restoreOptimizer };
}
