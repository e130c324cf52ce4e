import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { Module, type LoadStateDictOptions, type StateDict } from '../nn/module.js';
import { decodeTensors, encodeTensors, type WeightsManifest } from '../nn/weights-format.js';

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
  mkdirSync(dirname(paths.manifestPath), { recursive: true });
  const tensors = source instanceof Module ? source.stateDict() : source;
  const { manifest, binary } = encodeTensors(tensors, basename(paths.binaryPath), meta);
  writeFileAtomic(paths.binaryPath, [binary]);
  writeFileAtomic(paths.manifestPath, [new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n')]);
  return paths;
}

/** Reads a saved state dict and its `meta` without a model; every inconsistency is a clear error. */
export function readWeights(target: string): { tensors: StateDict; meta: unknown; manifest: WeightsManifest } {
  const { manifestPath } = weightsPaths(target);
  if (!existsSync(manifestPath)) throw new Error(`loadWeights: no weights manifest at ${manifestPath}`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new Error(`loadWeights: ${manifestPath} is not valid JSON (${(e as Error).message})`);
  }
  const binaryName = (manifest as { binary?: unknown } | null)?.binary;
  const binaryPath = typeof binaryName === 'string' ? join(dirname(manifestPath), binaryName) : '';
  if (binaryPath === '' || !existsSync(binaryPath) || !statSync(binaryPath).isFile()) {
    throw new Error(`loadWeights: binary file ${binaryPath || '(unnamed)'} named by ${manifestPath} is missing`);
  }
  const bytes = readFileSync(binaryPath);
  const tensors = decodeTensors(manifest, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), `loadWeights ${manifestPath}`);
  const m = manifest as WeightsManifest;
  return { tensors, meta: m.meta, manifest: m };
}

/** Loads saved weights into `module` (strict by default: missing, unexpected or mis-shaped entries are errors). */
export function loadWeights(target: string, module: Module, opts: LoadStateDictOptions = {}): { meta: unknown } {
  const { tensors, meta } = readWeights(target);
  module.loadStateDict(tensors, opts);
  return { meta };
}
