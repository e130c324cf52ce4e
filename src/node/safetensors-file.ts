import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Module, type LoadStateDictOptions, type StateDict } from '../nn/module.js';
import { decodeSafetensors, encodeSafetensors } from '../nn/safetensors.js';
import { writeFileAtomic } from './atomic-write.js';

/**
 * Writes a module's parameters (or any state dict) as a `.safetensors` file, atomically. Names are the
 * dotted parameter paths (`experts.0.layers.1.weight`), as in a PyTorch state dict; metadata values are strings.
 */
export function saveSafetensors(path: string, source: Module | StateDict, metadata: Record<string, string> = {}): string {
  const tensors = source instanceof Module ? source.stateDict() : source;
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, [encodeSafetensors(tensors, { producer: 'dselect-k', ...metadata })]);
  return path;
}

/** Reads a `.safetensors` file (F32, F64; F16 and BF16 widened to float32). */
export function readSafetensors(path: string): { tensors: StateDict; metadata: Record<string, string> } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`readSafetensors: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Loads a `.safetensors` file into `module` (strict by default, values converted to the parameters' dtype). */
export function loadSafetensors(path: string, module: Module, opts: LoadStateDictOptions = {}): { metadata: Record<string, string> } {
  const { tensors, metadata } = readSafetensors(path);
  module.loadStateDict(tensors, opts);
  return { metadata };
}
