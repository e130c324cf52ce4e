import { readFileSync, statSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { ensureDirectory } from './ensure-dir.js';
import { Module, type LoadStateDictOptions, type StateDict } from '../nn/module.js';
import { checkWeightsManifest, decodeTensors, encodeTensors, WeightsFormatError, type WeightsManifest } from '../nn/weights-format.js';

/** Where a save goes: a `.json` path names the manifest (binary next to it, `.bin`); anything else is a directory. */
export interface WeightsPaths {
  manifestPath: string;
  binaryPath: string;
}

export function weightsPaths(target: string): WeightsPaths {
  if (typeof target !== 'string' || target.length === 0) throw new Error(`weights: target path must be a non-empty string, got ${String(target)}`);
  if (target.endsWith('.json')) return { manifestPath: target, binaryPath: target.slice(0, -'.json'.length) + '.bin' };
  return { manifestPath: join(target, 'weights.json'), binaryPath: join(target, 'weights.bin') };
}

/**
 * Saves a module's parameters (or any state dict) as a JSON manifest plus one binary file. Both are
 * written to temporary files and renamed into place, binary first, so a crash never leaves a manifest
 * pointing at a partial binary.
 */
export function saveWeights(target: string, source: Module | StateDict, meta?: unknown): WeightsPaths {
  const paths = weightsPaths(target);
  ensureDirectory(dirname(paths.manifestPath), 'saveWeights');
  const tensors = source instanceof Module ? source.stateDict() : source;
  const { manifest, binary } = encodeTensors(tensors, basename(paths.binaryPath), meta);
  manifest.crc32 = crc32(binary);
  writeFileAtomic(paths.binaryPath, [binary]);
  writeFileAtomic(paths.manifestPath, [new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n')]);
  return paths;
}

/**
 * Reads a saved state dict and its `meta` without a model. Every problem is a WeightsFormatError; the
 * binary must be a plain file name in the manifest's folder (a manifest cannot make it read elsewhere).
 */
export function readWeights(target: string): { tensors: StateDict; meta: unknown; manifest: WeightsManifest } {
  const { manifestPath } = weightsPaths(target);
  const source = `loadWeights ${manifestPath}`;
  const text = readFileOrFail(manifestPath, source, 'weights manifest');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw new WeightsFormatError(`${source}: the manifest is not valid JSON (${(e as Error).message})`);
  }
  const manifest = checkWeightsManifest(parsed, source);
  const name = manifest.binary;
  if (name !== basename(name) || name === '.' || name === '..' || name.includes('\\') || name.includes('\0')) {
    throw new WeightsFormatError(`${source}: invalid weights manifest: binary ${JSON.stringify(name)} must be a file name in the manifest's folder, not a path`);
  }
  const binaryPath = join(dirname(manifestPath), name);
  const size = fileSize(binaryPath);
  if (size === null) throw new WeightsFormatError(`${source}: binary file ${binaryPath} named by the manifest is missing`);
  if (size !== manifest.byteLength) {
    throw new WeightsFormatError(`${source}: binary file holds ${size} bytes but the manifest declares ${manifest.byteLength} (${binaryPath}: truncated or mismatched file)`);
  }
  const bytes = readFileOrFail(binaryPath, source, 'binary file');
  if (manifest.crc32 !== undefined && crc32(bytes) !== manifest.crc32) {
    throw new WeightsFormatError(`${source}: checksum mismatch: binary file ${binaryPath} was changed after it was written (CRC-32 ${crc32(bytes)}, manifest says ${manifest.crc32})`);
  }
  const tensors = decodeTensors(manifest, bytes, source);
  return { tensors, meta: manifest.meta, manifest };
}

function readFileOrFail(path: string, source: string, what: string): Uint8Array {
  try {
    const bytes = readFileSync(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WeightsFormatError(code === 'ENOENT' ? `${source}: no ${what} at ${path}` : `${source}: cannot read ${what} ${path}: ${code ?? (e as Error).message}`);
  }
}

/** Size of a regular file, or null when there is none at `path`. */
function fileSize(path: string): number | null {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/**
 * Loads saved weights into `module` (strict by default: missing, unexpected or mis-shaped entries are
 * WeightsFormatErrors naming each, and the module is left unchanged).
 */
export function loadWeights(target: string, module: Module, opts: LoadStateDictOptions = {}): { meta: unknown } {
  const { tensors, meta } = readWeights(target);
  try {
    module.checkStateDict(tensors, opts);
  } catch (e) {
    throw new WeightsFormatError(`loadWeights ${weightsPaths(target).manifestPath}: the weights do not fit the model: ${(e as Error).message}`);
  }
  module.loadStateDict(tensors, opts);
  return { meta };
}
